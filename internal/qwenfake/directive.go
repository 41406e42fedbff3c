package qwenfake

import (
	"strconv"
	"strings"
	"time"
)

// Directive is the per-request control block found in the text of the last
// message: [[qwenfake key=value key=value]]. Numeric overrides that were not
// given are -1 (Tokens, Think, Split) or -1ns (Delay).
type Directive struct {
	Tokens int           // tokens=N: answer pieces
	Think  int           // think=N: reasoning pieces (when thinking is on)
	Seed   string        // seed=S: text seed (default "")
	Delay  time.Duration // delay=DURATION: pause between frames
	Split  int           // split=N: write frames in pieces of at most N bytes
	Fail   string        // fail=MODE: failure mode (see doc.go)
	Times  int           // times=N: fail only the first N requests with this ID (0 = always)
	ID     string        // id=S: counter key for times
	After  int           // after=N: content frames before a mid-stream failure
	Dual   bool          // dual=1: two candidate answers interleaved (v2 only)
	// Invalid lists key=value words that were not understood; they are
	// ignored.
	Invalid []string
}

const directiveOpen = "[[qwenfake"

// Caps keep a directive from exhausting the emulator.
const (
	maxDirectiveTokens = 1 << 20
	maxDirectiveDelay  = time.Hour
)

// ParseDirective finds the last [[qwenfake ...]] block in text (a flattened
// history carries the directives of earlier turns too; the last one wins)
// and parses it. It reports false when text has no complete block.
func ParseDirective(text string) (Directive, bool) {
	d := Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1}
	i := strings.LastIndex(text, directiveOpen)
	if i < 0 {
		return d, false
	}
	body := text[i+len(directiveOpen):]
	end := strings.Index(body, "]]")
	if end < 0 || (end > 0 && !isSpace(body[0])) {
		return d, false
	}
	for _, word := range strings.Fields(body[:end]) {
		if !d.set(word) {
			d.Invalid = append(d.Invalid, word)
		}
	}
	return d, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// set applies one key=value word and reports whether it was understood.
func (d *Directive) set(word string) bool {
	key, val, ok := strings.Cut(word, "=")
	if !ok {
		return false
	}
	switch key {
	case "seed":
		d.Seed = val
	case "fail":
		if !knownMode(val) {
			return false
		}
		d.Fail = val
	case "id":
		d.ID = val
	case "dual":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return false
		}
		d.Dual = b
	case "delay":
		v, err := time.ParseDuration(val)
		if err != nil || v < 0 || v > maxDirectiveDelay {
			return false
		}
		d.Delay = v
	case "tokens", "think", "split", "times", "after":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > maxDirectiveTokens {
			return false
		}
		*d.intField(key) = n
	default:
		return false
	}
	return true
}

func (d *Directive) intField(key string) *int {
	switch key {
	case "tokens":
		return &d.Tokens
	case "think":
		return &d.Think
	case "split":
		return &d.Split
	case "times":
		return &d.Times
	}
	return &d.After
}

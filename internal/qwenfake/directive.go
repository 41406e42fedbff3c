package qwenfake

import (
	"cmp"
	"slices"
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
	// RetryAfter: retry_after=N, the Retry-After seconds of fail=http429.
	RetryAfter int

	// Tool-call answers (see doc.go and ToolPlan).
	Calls     int    // calls=N: call blocks in the answer (-1: not given)
	CallFmt   string // callfmt=hermes|xml|json_string|bad|undeclared
	CallWhere string // callwhere=answer|thinking
	CallText  string // calltext=before|after|both|none: prose around the calls
	Name      string // name=S: the tool called (default: the first one declared)
	Prose     int    // prose=N: with id=S, the first N such requests answer prose instead
	Echo      string // echo=1: the answer is the received message text; echo=json: as a JSON string; echo=files: the received files; echo=doc: the text of the received documents, then the message
	Image     string // image=stream|detail|none: where an image answer's URL shows (t2i.go)
	Chunk     int    // chunk=N: bytes per content frame of a scripted answer (-1: 1-3 cycling)
	// Invalid lists key=value words that were not understood; they are
	// ignored.
	Invalid []string
}

const directiveOpen = "[[qwenfake"

// Caps keep a directive from exhausting the emulator.
const (
	maxDirectiveTokens = 1 << 20
	maxDirectiveDelay  = time.Hour
	maxDirectiveCalls  = 64
)

// ParseDirective finds the last [[qwenfake ...]] block in text (a flattened
// history carries the directives of earlier turns too; the last one wins)
// and parses it. It reports false when text has no complete block.
func ParseDirective(text string) (Directive, bool) {
	d := Directive{Tokens: -1, Think: -1, Delay: -1, Split: -1, Calls: -1, Chunk: -1}
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
	case "name":
		d.Name = val
	case "callfmt", "callwhere", "calltext":
		return d.setCallWord(key, val)
	case "echo":
		switch val {
		case "1", "true", "raw":
			d.Echo = "raw"
		case "json":
			d.Echo = "json"
		case "files":
			d.Echo = "files"
		case "doc", "docjson":
			d.Echo = val
		case "0", "false":
			d.Echo = ""
		default:
			return false
		}
	case "image":
		if val != "stream" && val != "detail" && val != "none" {
			return false
		}
		d.Image = val
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
	case "calls":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > maxDirectiveCalls {
			return false
		}
		d.Calls = n
	case "tokens", "think", "split", "times", "after", "retry_after", "prose", "chunk":
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
	case "retry_after":
		return &d.RetryAfter
	case "prose":
		return &d.Prose
	case "chunk":
		return &d.Chunk
	}
	return &d.After
}

// setCallWord sets callfmt, callwhere or calltext when val is one of its
// values.
func (d *Directive) setCallWord(key, val string) bool {
	var allowed []string
	field := &d.CallFmt
	switch key {
	case "callfmt":
		allowed = []string{CallHermes, CallXML, CallJSONString, CallBad, CallUndeclared, CallCustom}
	case "callwhere":
		allowed, field = []string{"answer", "thinking"}, &d.CallWhere
	default:
		allowed, field = []string{"before", "after", "both", "none"}, &d.CallText
	}
	if !slices.Contains(allowed, val) {
		return false
	}
	*field = val
	return true
}

// ToolAnswer reports whether the directive asks for a tool-call answer:
// calls=N with N > 0, or any call key without calls (one call).
func (d *Directive) ToolAnswer() bool {
	if d.Calls >= 0 {
		return d.Calls > 0
	}
	return d.CallFmt != "" || d.CallWhere != "" || d.CallText != ""
}

// ToolPlan is the tool-call answer the directive asks for. declared is the
// first tool of the request (used when the directive has no name=),
// tokens the prose length when the directive has no tokens=.
func (d *Directive) ToolPlan(declared string, tokens int) ToolPlan {
	p := ToolPlan{Seed: d.Seed, Name: cmp.Or(d.Name, declared, DefaultToolName), Calls: max(d.Calls, 1),
		Format: cmp.Or(d.CallFmt, CallHermes), InThinking: d.CallWhere == "thinking",
		Before: d.CallText == "before" || d.CallText == "both", After: d.CallText == "after" || d.CallText == "both",
		Tokens: tokens}
	if d.Tokens >= 0 {
		p.Tokens = d.Tokens
	}
	return p
}

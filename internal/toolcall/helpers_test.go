package toolcall

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// testTools are declared in most tests.
var testTools = []Tool{
	{Name: "get_weather", Description: "Weather for a city.", Parameters: json.RawMessage(
		`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}`)},
	{Name: "search", Description: "Search the web.", Parameters: json.RawMessage(`{"type":"object","properties":{
		"query":{"type":"string"},"limit":{"type":["integer","null"]},"exact":{"type":"boolean"},
		"score":{"anyOf":[{"type":"number"},{"type":"null"}]},
		"filters":{"type":"object"},"tags":{"type":"array","items":{"type":"string"}}}}`)},
	{Name: "apply_patch", Description: "Apply a patch.", Custom: true, Format: "*** Begin Patch ... *** End Patch"},
}

// frame is one piece of upstream text.
type frame struct {
	phase Phase
	text  string
}

func ans(s string) frame   { return frame{Answer, s} }
func think(s string) frame { return frame{Thinking, s} }

// seqIDs returns an IDFunc giving call_1, call_2, …
func seqIDs() IDFunc {
	n := 0
	return func() string { n++; return fmt.Sprintf("call_%d", n) }
}

// run feeds frames to a fresh parser and returns every event, checking the
// invariants every consumer relies on.
func run(t testing.TB, tools []Tool, choice Choice, parallel bool, frames []frame) ([]Event, *Parser) {
	t.Helper()
	p := NewParser(tools, choice, parallel, seqIDs())
	var evs []Event
	for _, f := range frames {
		evs = append(evs, p.Feed(f.phase, f.text)...)
	}
	evs = append(evs, p.Close()...)
	checkInvariants(t, evs)
	return evs, p
}

func checkInvariants(t testing.TB, evs []Event) {
	t.Helper()
	next := 0
	for i, e := range evs {
		switch e.Type {
		case Text, Reasoning:
			if e.Text == "" {
				t.Fatalf("event %d: empty text event", i)
			}
		case CallStart:
			if i+2 >= len(evs) || evs[i+1].Type != CallArgs || evs[i+2].Type != CallEnd {
				t.Fatalf("event %d: CallStart not followed by CallArgs and CallEnd", i)
			}
			end := evs[i+2].Call
			if e.Call.Index != next || end.Index != next || e.Call.ID == "" || end.ID != e.Call.ID {
				t.Fatalf("event %d: call index/id %d %q, want index %d", i, e.Call.Index, e.Call.ID, next)
			}
			next++
			if !end.Custom && !json.Valid([]byte(end.Arguments)) {
				t.Fatalf("event %d: invalid arguments JSON %q", i, end.Arguments)
			}
			if !end.Custom && !strings.HasPrefix(end.Arguments, "{") {
				t.Fatalf("event %d: arguments not an object %q", i, end.Arguments)
			}
			if want := argsText(end); evs[i+1].Text != want {
				t.Fatalf("event %d: CallArgs %q, CallEnd says %q", i, evs[i+1].Text, want)
			}
		}
	}
}

func argsText(c Call) string {
	if c.Custom {
		return c.Input
	}
	return c.Arguments
}

// summary merges consecutive text (and reasoning) events and writes each call
// as "call:NAME ARGS" or "custom:NAME INPUT", so results compare across
// different frame splits.
func summary(evs []Event) []string {
	var out []string
	for _, e := range evs {
		var s string
		switch e.Type {
		case Text:
			s = "text:" + e.Text
		case Reasoning:
			s = "think:" + e.Text
		case CallEnd:
			if e.Call.Custom {
				s = "custom:" + e.Call.Name + " " + e.Call.Input
			} else {
				s = "call:" + e.Call.Name + " " + e.Call.Arguments
			}
		default:
			continue
		}
		if n := len(out); n > 0 && (e.Type == Text || e.Type == Reasoning) && sameKind(out[n-1], s) {
			out[n-1] += s[strings.IndexByte(s, ':')+1:]
			continue
		}
		out = append(out, s)
	}
	return out
}

func sameKind(a, b string) bool {
	return a[:strings.IndexByte(a, ':')] == b[:strings.IndexByte(b, ':')]
}

// splits yields the ways of cutting frames that a test tries: unchanged;
// every single cut point and, for short inputs, every pair of cut points;
// fixed 1-, 2- and 3-byte frames; and random 1..3-byte frames.
func splits(frames []frame, pairs bool) map[string][]frame {
	out := map[string][]frame{"whole": frames}
	joined := 0
	for _, f := range frames {
		joined += len(f.text)
	}
	for size := 1; size <= 3; size++ {
		out[fmt.Sprintf("fixed%d", size)] = cutEach(frames, func(s string) []int { return every(len(s), size) })
	}
	rng := rand.New(rand.NewPCG(7, uint64(joined)))
	for r := range 20 {
		out[fmt.Sprintf("random%d", r)] = cutEach(frames, func(s string) []int {
			var cuts []int
			for i := rng.IntN(3) + 1; i < len(s); i += rng.IntN(3) + 1 {
				cuts = append(cuts, i)
			}
			return cuts
		})
	}
	if len(frames) != 1 {
		return out
	}
	s := frames[0].text
	for i := 1; i < len(s); i++ {
		out[fmt.Sprintf("cut%d", i)] = cut(frames[0].phase, s, []int{i})
		if !pairs {
			continue
		}
		for j := i + 1; j < len(s); j++ {
			out[fmt.Sprintf("cut%d,%d", i, j)] = cut(frames[0].phase, s, []int{i, j})
		}
	}
	return out
}

func every(n, size int) []int {
	var cuts []int
	for i := size; i < n; i += size {
		cuts = append(cuts, i)
	}
	return cuts
}

func cutEach(frames []frame, cuts func(string) []int) []frame {
	var out []frame
	for _, f := range frames {
		out = append(out, cut(f.phase, f.text, cuts(f.text))...)
	}
	return out
}

func cut(phase Phase, s string, cuts []int) []frame {
	var out []frame
	prev := 0
	for _, c := range cuts {
		out = append(out, frame{phase, s[prev:c]})
		prev = c
	}
	return append(out, frame{phase, s[prev:]})
}

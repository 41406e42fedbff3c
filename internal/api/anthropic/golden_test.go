package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name (rewriting it under -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var testMeta = api.Meta{ID: "msg_test", Created: 1700000000, Model: "claude-sonnet-4-5"}

func text(s string) *api.Event      { return &api.Event{Type: api.EventText, Text: s} }
func reasoning(s string) *api.Event { return &api.Event{Type: api.EventReasoning, Text: s} }
func call(i int, id, name, args string) *api.Event {
	return &api.Event{Type: api.EventToolCall, Call: &toolcall.Call{Index: i, ID: id, Name: name, Arguments: args}}
}

// transcript is one streamed answer: its events, then an End or a failure.
type transcript struct {
	name   string
	events []*api.Event
	end    *api.End
	fail   *api.Problem
	ping   bool // a heartbeat before the first event
}

var transcripts = []transcript{
	{name: "text", events: []*api.Event{text("Hello"), text(""), text(", <b>world</b> & \"you\"")},
		end: &api.End{FinishReason: api.FinishStop, Usage: upstream.Usage{PromptTokens: 12, CompletionTokens: 3}}, ping: true},
	{name: "thinking_text", events: []*api.Event{reasoning("Let me think"), reasoning(" about 2+2."), text("It is 4.")},
		end: &api.End{FinishReason: api.FinishLength, Usage: upstream.Usage{PromptTokens: 20, CompletionTokens: 9, CachedTokens: 8}}},
	{name: "text_two_tools", events: []*api.Event{text("Checking both."),
		call(0, "call_a1", "get_weather", `{"city":"Paris","note":"</tool_call> \"q\"\n中文"}`), call(1, "", "get_time", `{}`)},
		end: &api.End{FinishReason: api.FinishToolCalls, Usage: upstream.Usage{PromptTokens: 40, CompletionTokens: 30}}},
	{name: "fail_midstream", events: []*api.Event{reasoning("Hmm"), text("Partial")},
		fail: &api.Problem{Status: 502, Class: api.ClassUpstream, Code: "upstream_error", Message: "Qwen Chat failed: stream cut"}},
}

func render(tr transcript) []byte {
	req := &api.Request{Model: testMeta.Model, Messages: []api.Message{{Role: "user", Text: "hi"}}}
	enc := New().NewStream(req, testMeta)
	out := enc.Start(nil)
	if tr.ping {
		out = enc.Heartbeat(out)
	}
	for _, ev := range tr.events {
		out = enc.Event(out, ev)
	}
	if tr.fail != nil {
		return enc.Fail(out, tr.fail)
	}
	return enc.End(out, tr.end)
}

func TestStreamGolden(t *testing.T) {
	for _, tr := range transcripts {
		t.Run(tr.name, func(t *testing.T) {
			out := render(tr)
			checkFrames(t, out)
			golden(t, tr.name+".sse", out)
		})
	}
}

// checkFrames checks the SSE framing and the block sequence: each frame is
// "event: NAME\ndata: JSON\n\n" whose JSON type is NAME; blocks open in
// index order, one at a time, each closed before the next opens, and a
// thinking block gets its signature before it closes.
func checkFrames(t *testing.T, out []byte) {
	t.Helper()
	frames := strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n")
	open, next := -1, 0
	var openType string
	signed := false
	for i, f := range frames {
		name, data, ok := strings.Cut(f, "\n")
		name, ok1 := strings.CutPrefix(name, "event: ")
		data, ok2 := strings.CutPrefix(data, "data: ")
		if !ok || !ok1 || !ok2 || strings.Contains(data, "\n") {
			t.Fatalf("frame %d is not one event line and one data line: %q", i, f)
		}
		var ev struct {
			Type         string `json:"type"`
			Index        int    `json:"index"`
			ContentBlock struct {
				Type string `json:"type"`
			} `json:"content_block"`
			Delta struct {
				Type string `json:"type"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Type != name {
			t.Fatalf("frame %d: data %q (err %v) does not carry type %q", i, data, err, name)
		}
		switch name {
		case "content_block_start":
			if open != -1 || ev.Index != next {
				t.Fatalf("frame %d: block %d starts while %d is open (next %d)", i, ev.Index, open, next)
			}
			open, openType, signed = ev.Index, ev.ContentBlock.Type, false
		case "content_block_delta":
			if ev.Index != open {
				t.Fatalf("frame %d: delta for block %d, open %d", i, ev.Index, open)
			}
			signed = signed || ev.Delta.Type == "signature_delta"
		case "content_block_stop":
			if ev.Index != open || (openType == "thinking" && !signed) {
				t.Fatalf("frame %d: stop of block %d (open %d, %s, signed %v)", i, ev.Index, open, openType, signed)
			}
			open, next = -1, next+1
		case "message_delta", "message_stop":
			if open != -1 {
				t.Fatalf("frame %d: %s with block %d open", i, name, open)
			}
		}
	}
	if first := frames[0]; !strings.HasPrefix(first, "event: message_start\n") {
		t.Errorf("first frame %q", first)
	}
}

func TestAnswerGolden(t *testing.T) {
	tests := []struct {
		name string
		ans  api.Answer
	}{
		{"answer_text", api.Answer{Text: "Hello <world>", End: api.End{FinishReason: api.FinishStop, Usage: upstream.Usage{PromptTokens: 10, CompletionTokens: 2}}}},
		{"answer_thinking_tools", api.Answer{Reasoning: "plan", Text: "Calling.", Calls: []toolcall.Call{
			{Index: 0, ID: "call_x", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{Index: 1, Name: "apply_patch", Custom: true, Input: "*** Begin Patch"}},
			End: api.End{FinishReason: api.FinishToolCalls, Usage: upstream.Usage{PromptTokens: 50, CompletionTokens: 20, CachedTokens: 30}}}},
		{"answer_empty_filtered", api.Answer{End: api.End{FinishReason: api.FinishContentFilter}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := New().Answer(&api.Request{}, testMeta, &tt.ans)
			if status != 200 || !json.Valid(body) {
				t.Fatalf("status %d, body %s", status, body)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden(t, tt.name+".json", pretty.Bytes())
		})
	}
}

func TestStopReason(t *testing.T) {
	for in, want := range map[string]string{api.FinishStop: "end_turn", api.FinishToolCalls: "tool_use",
		api.FinishLength: "max_tokens", api.FinishContentFilter: "refusal", "": "end_turn", "odd": "end_turn"} {
		t.Run(in, func(t *testing.T) {
			if got := stopReason(in); got != want {
				t.Errorf("stopReason(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

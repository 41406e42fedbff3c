package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testID = "resp_0123456789abcdef"

var testMeta = api.Meta{ID: testID, Created: 1_800_000_000, Model: "qwen3-max"}

// step is one thing the server does to an encoder.
type step struct {
	ev   *api.Event
	beat bool
}

func text(s string) step      { return step{ev: &api.Event{Type: api.EventText, Text: s}} }
func reasoning(s string) step { return step{ev: &api.Event{Type: api.EventReasoning, Text: s}} }
func call(c toolcall.Call) step {
	return step{ev: &api.Event{Type: api.EventToolCall, Call: &c}}
}

var usage = upstream.Usage{PromptTokens: 12, CompletionTokens: 7, ReasoningTokens: 3, CachedTokens: 2}

func TestStreamGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		steps []step
		end   *api.End
		fail  *api.Problem
	}{
		{"text", `{"model":"qwen3-max","input":"hi","stream":true}`,
			[]step{text("Hel"), {beat: true}, text("lo!")}, &api.End{FinishReason: api.FinishStop, Usage: usage}, nil},
		{"reasoning_text", `{"model":"qwen3-max","input":"2+2?","stream":true,"reasoning":{"effort":"high","summary":"auto"}}`,
			[]step{reasoning("Add "), reasoning("them."), text("4")}, &api.End{FinishReason: api.FinishStop, Usage: usage}, nil},
		{"function_call", `{"model":"qwen3-max","input":"weather?","stream":true,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}`,
			[]step{text("Checking."), call(toolcall.Call{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`})},
			&api.End{FinishReason: api.FinishToolCalls, Usage: usage}, nil},
		{"custom_apply_patch", `{"model":"gpt-5-codex","input":"fix it","stream":true,"store":false,"tools":[{"type":"custom","name":"apply_patch"}]}`,
			[]step{call(toolcall.Call{ID: "call_p", Name: "apply_patch", Custom: true,
				Input: "*** Begin Patch\n*** Update File: a.txt\n@@\n-old\n+new \"quoted\"\n*** End Patch\n"})},
			&api.End{FinishReason: api.FinishToolCalls, Usage: usage}, nil},
		{"length", `{"model":"qwen3-max","input":"long","stream":true,"max_output_tokens":16}`,
			[]step{text("cut")}, &api.End{FinishReason: api.FinishLength, Usage: usage}, nil},
		{"failure_mid_stream", `{"model":"qwen3-max","input":"hi","stream":true}`,
			[]step{reasoning("hmm"), text("Par")}, nil, &api.Problem{Status: 502, Class: api.ClassUpstream, Code: "upstream_error", Message: "Qwen Chat failed: stream reset"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(nil, 0)
			req, err := c.Decode(context.Background(), []byte(tc.body), http.Header{})
			if err != nil {
				t.Fatal(err)
			}
			enc := c.NewStream(req, testMeta)
			out := enc.Start(nil)
			for _, s := range tc.steps {
				if s.beat {
					out = enc.Heartbeat(out)
				} else {
					out = enc.Event(out, s.ev)
				}
			}
			if tc.fail != nil {
				out = enc.Fail(out, tc.fail)
			} else {
				out = enc.End(out, tc.end)
			}
			checkFrames(t, out)
			golden(t, filepath.Join("testdata", tc.name+".sse"), out)
		})
	}
}

// checkFrames checks what every client relies on: each frame is
// "event: TYPE" + one data line whose JSON has that type and the next
// sequence number.
func checkFrames(t *testing.T, out []byte) {
	t.Helper()
	d := sse.NewDecoder(bytes.NewReader(out), 0)
	for seq := 0; ; seq++ {
		ev, err := d.Next()
		if err != nil {
			if seq == 0 {
				t.Fatalf("no events: %v", err)
			}
			return
		}
		var v struct {
			Type string `json:"type"`
			Seq  *int   `json:"sequence_number"`
		}
		if err := json.Unmarshal(ev.Data, &v); err != nil || v.Type != ev.Type || v.Seq == nil || *v.Seq != seq {
			t.Fatalf("frame %d: event %q data %s (%v)", seq, ev.Type, ev.Data, err)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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
		t.Errorf("%s differs (run with -update after checking):\n--- got\n%s", path, got)
	}
}

// TestStreamMatchesAnswer: the response in response.completed is the
// Response object a non-streamed request gets for the same answer.
func TestStreamMatchesAnswer(t *testing.T) {
	c := New(nil, 0)
	req, err := c.Decode(context.Background(), []byte(`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}]}`), http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	ans := &api.Answer{Text: "ok", Reasoning: "think", End: api.End{FinishReason: api.FinishToolCalls, Usage: usage},
		Calls: []toolcall.Call{{ID: "c1", Name: "f", Arguments: `{}`}, {Index: 1, ID: "c2", Name: "f", Arguments: `{"a":1}`}}}
	enc := c.NewStream(req, testMeta)
	out := enc.Start(nil)
	out = enc.Event(out, &api.Event{Type: api.EventReasoning, Text: ans.Reasoning})
	out = enc.Event(out, &api.Event{Type: api.EventText, Text: ans.Text})
	for i := range ans.Calls {
		out = enc.Event(out, &api.Event{Type: api.EventToolCall, Call: &ans.Calls[i]})
	}
	out = enc.End(out, &ans.End)
	frames := strings.Split(strings.TrimSpace(string(out)), "\n\n")
	last := frames[len(frames)-1]
	_, data, _ := strings.Cut(last, "data: ")
	var ev struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatal(err)
	}
	status, body := c.Answer(req, testMeta, ans)
	if status != 200 || !jsonEqual(t, ev.Response, body) {
		t.Fatalf("streamed final response\n%s\ndiffers from the answer\n%s", ev.Response, body)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TestFailRenderedInAdvance: the server renders a shutdown failure when the
// stream starts; that must not disturb the stream (regression: the first
// event had sequence_number 1).
func TestFailRenderedInAdvance(t *testing.T) {
	c := New(nil, 0)
	req, err := c.Decode(context.Background(), []byte(`{"model":"m","input":"x","stream":true}`), http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	enc := c.NewStream(req, testMeta)
	_ = enc.Fail(nil, &api.Problem{Status: 503, Class: api.ClassServer, Code: "shutdown", Message: "shutting down"})
	out := enc.Start(nil)
	out = enc.Event(out, &api.Event{Type: api.EventText, Text: "hi"})
	out = enc.End(out, &api.End{FinishReason: api.FinishStop})
	checkFrames(t, out)
	if bytes.Contains(out, []byte(`"failed"`)) {
		t.Fatalf("the failure rendered in advance leaked into the stream:\n%s", out)
	}
}

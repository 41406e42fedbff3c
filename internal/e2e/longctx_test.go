package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// clineParams is a Cline-like task of about 300 KB: a long system prompt
// describing XML tools, then many tool calls (assistant turns) and their
// results (user turns), each marked, and a last user turn carrying
// directive.
func clineParams(directive string) (openai.ChatCompletionNewParams, []string) {
	sys := "CLINE-SYSTEM You are Cline, a highly skilled software engineer. TOOL USE: <read_file><path>…</path></read_file>. " +
		strings.Repeat("Rules: use one tool per message and wait for the result. ", 550)
	marks := []string{sys}
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(sys)}
	for i := range 50 {
		call := fmt.Sprintf("I will read the file next.\n<read_file>\n<path>internal/pkg%02d/file.go</path>\n</read_file> CALL-%02d", i, i)
		result := fmt.Sprintf("[read_file for 'internal/pkg%02d/file.go'] Result: RESULT-%02d\n", i, i) +
			strings.Repeat(fmt.Sprintf("func f%02d() error { return nil } // line\n", i), 130)
		msgs = append(msgs, openai.AssistantMessage(call), openai.UserMessage(result))
		marks = append(marks, call, result)
	}
	last := "<task>Now fix the failing test in pkg49.</task> " + directive
	msgs = append(msgs, openai.UserMessage(last))
	return openai.ChatCompletionNewParams{Model: model, Messages: msgs}, append(marks, last)
}

func historySize(marks []string) int {
	n := 0
	for _, m := range marks {
		n += len(m)
	}
	return n
}

// With attach (the default), a 300 KB history is answered: the older part
// arrives as an uploaded document, the latest turn inline, every turn is
// seen by the model (echo=doc), and no upstream body crosses the wall.
func TestLongContextAttach(t *testing.T) {
	e := start(t, setup{})
	p, marks := clineParams("[[qwenfake echo=doc chunk=65536]]")
	if n := historySize(marks); n < 280_000 {
		t.Fatalf("history is only %d bytes", n)
	}
	for _, mode := range []string{"non-stream", "stream"} {
		t.Run(mode, func(t *testing.T) {
			e.emu.Reset()
			var seen string
			if mode == "stream" {
				r := e.stream(context.Background(), p)
				if r.err != nil {
					t.Fatal(r.err)
				}
				seen = r.content
			} else {
				c, err := e.client.Chat.Completions.New(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				seen = c.Choices[0].Message.Content
			}
			doc, inline, ok := strings.Cut(seen, "[message]\n")
			if !ok || !strings.HasPrefix(doc, "[file "+qwen.HistoryFileName+"]\n") {
				t.Fatalf("the model saw no attached history: %.200q", seen)
			}
			if !strings.HasPrefix(inline, qwen.HistoryPointer) || !strings.Contains(inline, "Now fix the failing test") {
				t.Fatalf("inline part: %.200q", inline)
			}
			for i, m := range marks {
				if !strings.Contains(seen, m) {
					t.Fatalf("turn %d (%d bytes) never reached the model", i, len(m))
				}
			}
			st := e.emu.Stats()
			if st.MaxCompletionBody == 0 || st.MaxCompletionBody > int64(e.cfg.UpstreamMaxBody-qwen.ContextMargin) {
				t.Fatalf("largest upstream body %d bytes, wall %d", st.MaxCompletionBody, e.cfg.UpstreamMaxBody)
			}
			t.Logf("history %d bytes; largest upstream body %d bytes; document %d bytes", historySize(marks), st.MaxCompletionBody, len(doc))
		})
	}
}

// Each strategy on the same over-the-wall history.
func TestLongContextStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		check    func(t *testing.T, e *env, marks []string, answer string, err error)
	}{
		{"truncate", func(t *testing.T, e *env, marks []string, answer string, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(answer, marks[0]) || !strings.Contains(answer, marks[len(marks)-1]) {
				t.Error("the system prompt or the latest turn was dropped")
			}
			if strings.Contains(answer, "RESULT-00") || !strings.Contains(answer, "RESULT-49") {
				t.Error("not the oldest turns dropped")
			}
			if st := e.emu.Stats(); st.MaxCompletionBody > int64(e.cfg.UpstreamMaxBody) || st.Paths["/api/v2/files/getstsToken"] != 0 {
				t.Errorf("body %d bytes, %d uploads", st.MaxCompletionBody, st.Paths["/api/v2/files/getstsToken"])
			}
			if !strings.Contains(e.logs.String(), "long context truncated") {
				t.Error("no log line says the context was truncated")
			}
		}},
		{"refuse", func(t *testing.T, e *env, _ []string, _ string, err error) {
			if ae := apiErr(t, err); ae.StatusCode != 413 || ae.Code != "context_too_large" {
				t.Fatalf("%d %s %s", ae.StatusCode, ae.Code, ae.Message)
			}
			if n := e.emu.Stats().Completions; n != 0 {
				t.Fatalf("%d completions reached the upstream", n)
			}
		}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			e := start(t, setup{cfg: func(c *config.Config) { c.ContextStrategy = tc.strategy }})
			p, marks := clineParams("[[qwenfake echo=1 chunk=65536]]")
			answer := ""
			c, err := e.client.Chat.Completions.New(context.Background(), p)
			if err == nil {
				answer = c.Choices[0].Message.Content
			}
			tc.check(t, e, marks, answer, err)
		})
	}
}

// A latest turn that alone crosses the wall is a 413 even with attach.
func TestLongContextLatestTurnTooLarge(t *testing.T) {
	e := start(t, setup{})
	p, _ := clineParams(strings.Repeat("x", 130_000))
	_, err := e.client.Chat.Completions.New(context.Background(), p)
	if ae := apiErr(t, err); ae.StatusCode != 413 || ae.Code != "context_too_large" || !strings.Contains(ae.Message, "latest message") {
		t.Fatalf("%d %s %s", ae.StatusCode, ae.Code, ae.Message)
	}
	if st := e.emu.Stats(); st.Completions != 0 || st.Paths["/api/v2/files/getstsToken"] != 0 {
		t.Fatalf("%d completions, %d uploads", st.Completions, st.Paths["/api/v2/files/getstsToken"])
	}
}

// The history document belongs to the account that uploaded it: when the
// first account fails after its upload, the retry on another account
// uploads the history again (the emulator refuses a files[] entry naming
// another user's object, so the answer proves the second upload).
func TestLongContextRetryUploadsAgain(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeCaptcha})
	p, marks := clineParams("[[qwenfake echo=doc chunk=65536]]")
	for range 3 {
		c, err := e.client.Chat.Completions.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Choices[0].Message.Content; !strings.Contains(got, marks[1]) || !strings.Contains(got, marks[len(marks)-1]) {
			t.Fatalf("answer %.200q", got)
		}
	}
	if n := e.emu.Account("alice").Requests; n != 1 {
		t.Fatalf("alice answered %d completions, want 1 (then quarantined)", n)
	}
	if n := e.emu.Stats().Paths["/api/v2/files/getstsToken"]; n != 4 {
		t.Fatalf("%d STS tokens issued, want 4 (alice's wasted upload, then one per answer)", n)
	}
}

// An upload failure of the history is a clear error, stream and
// non-stream, and never a silently truncated answer.
func TestLongContextUploadFailure(t *testing.T) {
	e := start(t, setup{})
	e.emu.SetUploadFailure(qwenfake.UploadParseFail)
	p, _ := clineParams("[[qwenfake echo=doc chunk=65536]]")
	_, err := e.client.Chat.Completions.New(context.Background(), p)
	if ae := apiErr(t, err); ae.StatusCode < 500 || !strings.Contains(ae.Message, "parse") {
		t.Fatalf("non-stream: %d %s %s", ae.StatusCode, ae.Code, ae.Message)
	}
	r := e.stream(context.Background(), p)
	if r.err == nil || r.content != "" {
		t.Fatalf("stream: err %v, content %.100q", r.err, r.content)
	}
	if n := e.emu.Stats().Completions; n != 0 {
		t.Fatalf("%d completions sent without the history", n)
	}
	e.emu.SetUploadFailure(qwenfake.UploadOK)
}

// A native tool-calling agent's history (tools declared, tool_calls and
// tool results) over the wall: the rendered calls and results reach the
// model, through the document or inline (echo=docjson keeps the echoed
// markup from being parsed as calls).
func TestLongContextNativeTools(t *testing.T) {
	e := start(t, setup{})
	p := toolParams(t, "echo=docjson chunk=65536")
	p.Messages = []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are a coding agent. " + strings.Repeat("Be careful. ", 2000))}
	var results []string
	for i := range 40 {
		id := fmt.Sprintf("call_%02d", i)
		call := openai.ChatCompletionMessageParamUnion{OfAssistant: &openai.ChatCompletionAssistantMessageParam{
			ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID: id, Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
					Name: "read_file", Arguments: fmt.Sprintf(`{"path":"pkg%02d/main.go"}`, i)}}}}}}
		result := fmt.Sprintf("TOOL-RESULT-%02d ", i) + strings.Repeat("package main // code\n", 330)
		results = append(results, result)
		p.Messages = append(p.Messages, call, openai.ToolMessage(result, id))
	}
	p.Messages = append(p.Messages, openai.UserMessage("Go on. [[qwenfake echo=docjson chunk=65536]]"))
	seen := e.echoed(t, p)
	if !strings.HasPrefix(seen, "[file "+qwen.HistoryFileName+"]\n") {
		t.Fatalf("no attached history: %.200q", seen)
	}
	for i, r := range results {
		if !strings.Contains(seen, r) || !strings.Contains(seen, fmt.Sprintf(`pkg%02d/main.go`, i)) {
			t.Fatalf("tool call or result %d never reached the model", i)
		}
	}
	if !strings.Contains(seen, "<tools>") || !strings.Contains(seen, "Be careful.") {
		t.Fatal("the tool instructions or the system prompt never reached the model")
	}
	if n := e.emu.Stats().MaxCompletionBody; n > int64(e.cfg.UpstreamMaxBody-qwen.ContextMargin) {
		t.Fatalf("largest upstream body %d bytes", n)
	}
}

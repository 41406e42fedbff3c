package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// fnTool declares a function tool with a JSON schema.
func fnTool(t testing.TB, name, schema string) openai.ChatCompletionToolUnionParam {
	t.Helper()
	var params shared.FunctionParameters
	if err := json.Unmarshal([]byte(schema), &params); err != nil {
		t.Fatal(err)
	}
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: name,
		Description: openai.String("Tool " + name + " of the e2e tests."), Parameters: params})
}

// toolParams asks for directive kv with write_file (the emulator's ToolSchema)
// declared first and read_file second.
func toolParams(t testing.TB, kv string) openai.ChatCompletionNewParams {
	p := params(model, "Please act. [[qwenfake "+kv+"]]")
	p.Tools = []openai.ChatCompletionToolUnionParam{fnTool(t, "write_file", qwenfake.ToolSchema),
		fnTool(t, "read_file", `{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`)}
	return p
}

// planOf is the emulator's tool answer for directive kv, write_file declared first.
func planOf(kv string) qwenfake.ToolPlan {
	d, _ := qwenfake.ParseDirective("[[qwenfake " + kv + "]]")
	return d.ToolPlan("write_file", 16)
}

// toolAnswer is what the SDK handed its user, streamed or not.
type toolAnswer struct {
	content, reasoning string
	calls              []openai.ChatCompletionMessageToolCallUnion
	finished           []openai.FinishedChatCompletionToolCall // streamed: JustFinishedToolCall
	finish             string
	usage              openai.CompletionUsage
	msg                openai.ChatCompletionMessage // for the next turn's history (ToParam)
	// customs are the streamed custom tool calls, read from the raw chunks:
	// the SDK's chunk type and accumulator know only function calls.
	customs []customCall
	err     error
}

type customCall struct{ Name, Input string }

// addCustom reassembles custom tool-call deltas (by index) from a raw chunk.
func (a *toolAnswer) addCustom(raw string) {
	if !strings.Contains(raw, `"custom"`) {
		return
	}
	var c struct {
		Choices []struct {
			Delta struct {
				ToolCalls []struct {
					Index  int        `json:"index"`
					Type   string     `json:"type"`
					Custom customCall `json:"custom"`
				} `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal([]byte(raw), &c) != nil {
		return
	}
	for _, ch := range c.Choices {
		for _, tc := range ch.Delta.ToolCalls {
			for len(a.customs) <= tc.Index {
				a.customs = append(a.customs, customCall{})
			}
			a.customs[tc.Index].Name += tc.Custom.Name
			a.customs[tc.Index].Input += tc.Custom.Input
		}
	}
}

// streamTools streams p and accumulates it with the SDK's accumulator.
func (e *env) streamTools(ctx context.Context, p openai.ChatCompletionNewParams) toolAnswer {
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := e.client.Chat.Completions.NewStreaming(ctx, p)
	defer st.Close()
	var acc openai.ChatCompletionAccumulator
	var a toolAnswer
	var reasoning strings.Builder
	for st.Next() {
		c := st.Current()
		if !acc.AddChunk(c) {
			a.err = errFmt("the accumulator rejected chunk %s", c.RawJSON())
			return a
		}
		a.addCustom(c.RawJSON())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			a.finished = append(a.finished, tc)
		}
		for _, ch := range c.Choices {
			if f, ok := ch.Delta.JSON.ExtraFields["reasoning_content"]; ok {
				reasoning.WriteString(unquote(f.Raw()))
			}
		}
	}
	a.err, a.reasoning, a.usage = st.Err(), reasoning.String(), acc.Usage
	if len(acc.Choices) > 0 {
		m := acc.Choices[0]
		a.content, a.calls, a.finish, a.msg = m.Message.Content, m.Message.ToolCalls, string(m.FinishReason), m.Message
	}
	return a
}

// completeTools sends p without streaming.
func (e *env) completeTools(ctx context.Context, p openai.ChatCompletionNewParams) toolAnswer {
	c, err := e.client.Chat.Completions.New(ctx, p)
	if err != nil {
		return toolAnswer{err: err}
	}
	a := toolAnswer{usage: c.Usage}
	if len(c.Choices) > 0 {
		m := c.Choices[0]
		a.content, a.calls, a.finish, a.msg = m.Message.Content, m.Message.ToolCalls, string(m.FinishReason), m.Message
		a.reasoning = unquote(m.Message.JSON.ExtraFields["reasoning_content"].Raw())
	}
	return a
}

// ask runs p streamed or not.
func (e *env) ask(stream bool, p openai.ChatCompletionNewParams) toolAnswer {
	if stream {
		return e.streamTools(context.Background(), p)
	}
	return e.completeTools(context.Background(), p)
}

// checkCalls compares the calls with the emulator's: names, arguments byte
// for byte, unique ids, finish_reason tool_calls, usage.
func checkCalls(t *testing.T, a toolAnswer, stream bool, name, seed string, n int) {
	t.Helper()
	if a.err != nil {
		t.Fatal(a.err)
	}
	if len(a.calls) != n {
		t.Fatalf("%d calls, want %d; content %q", len(a.calls), n, a.content)
	}
	ids := map[string]bool{}
	for i, c := range a.calls {
		if c.Type != "function" || c.Function.Name != name || c.ID == "" || ids[c.ID] {
			t.Fatalf("call %d: type %q name %q id %q", i, c.Type, c.Function.Name, c.ID)
		}
		ids[c.ID] = true
		if want := qwenfake.ToolCallArgs(seed, i); c.Function.Arguments != want {
			t.Fatalf("call %d arguments\n got %s\nwant %s", i, c.Function.Arguments, want)
		}
	}
	if stream && len(a.finished) != n {
		t.Fatalf("the accumulator finished %d calls, want %d", len(a.finished), n)
	}
	if n > 0 && a.finish != "tool_calls" {
		t.Fatalf("finish_reason %q, want tool_calls", a.finish)
	}
	if a.usage.CompletionTokens == 0 || a.usage.PromptTokens == 0 || a.usage.TotalTokens == 0 {
		t.Fatalf("usage %+v", a.usage)
	}
}

// noMarkup fails when tool-call markup reached the client as text.
func noMarkup(t *testing.T, a toolAnswer) {
	t.Helper()
	for _, tag := range []string{"<tool_call", "</tool_call>", "<function=", "<parameter="} {
		if strings.Contains(a.content, tag) {
			t.Fatalf("markup %q leaked: %q", tag, a.content)
		}
	}
}

var both = []bool{true, false}

const ws = " \t\r\n"

func streamName(s bool) string {
	if s {
		return "stream"
	}
	return "non-stream"
}

func TestToolCallFormats(t *testing.T) {
	e := start(t, setup{})
	tests := []struct {
		name, kv string
		calls    int
	}{
		{"hermes", "calls=1 seed=f1", 1},
		{"hermes parallel", "calls=3 seed=f2", 3},
		{"xml", "calls=1 callfmt=xml seed=f3", 1},
		{"xml parallel", "calls=2 callfmt=xml seed=f4", 2},
		{"json string", "calls=2 callfmt=json_string seed=f5", 2},
		{"prose around", "calls=2 calltext=both seed=f6 tokens=6", 2},
		{"xml prose before", "calls=1 callfmt=xml calltext=before seed=f7 tokens=5", 1},
		{"1-byte frames", "calls=2 chunk=1 seed=f8", 2},
		{"1-byte writes", "calls=1 callfmt=xml chunk=64 split=1 seed=f9", 1},
		{"2-byte writes", "calls=2 chunk=7 split=2 seed=f10", 2},
		{"3-byte writes", "calls=2 callfmt=json_string split=3 seed=f11", 2},
	}
	for _, tt := range tests {
		for _, stream := range both {
			t.Run(tt.name+"/"+streamName(stream), func(t *testing.T) {
				plan := planOf(tt.kv)
				a := e.ask(stream, toolParams(t, tt.kv))
				checkCalls(t, a, stream, "write_file", plan.Seed, tt.calls)
				noMarkup(t, a)
				// Whitespace touching a call block is dropped (internal/toolcall).
				if want := strings.TrimRight(plan.BeforeText(), ws) + strings.TrimLeft(plan.AfterText(), ws); a.content != want {
					t.Fatalf("content %q\nwant %q", a.content, want)
				}
			})
		}
	}
}

func TestToolChoiceAndParallel(t *testing.T) {
	e := start(t, setup{})
	tests := []struct {
		name, kv string
		mod      func(*openai.ChatCompletionNewParams)
		calls    int
	}{
		{"parallel off keeps the first", "calls=3 seed=c1", func(p *openai.ChatCompletionNewParams) {
			p.ParallelToolCalls = openai.Bool(false)
		}, 1},
		{"none makes no call", "calls=2 name=write_file calltext=before seed=c2", func(p *openai.ChatCompletionNewParams) {
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
		}, 0},
		{"named", "calls=2 seed=c3", func(p *openai.ChatCompletionNewParams) {
			p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "write_file"})
		}, 2},
		{"required", "calls=1 seed=c4", func(p *openai.ChatCompletionNewParams) {
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
		}, 1},
	}
	for _, tt := range tests {
		for _, stream := range both {
			t.Run(tt.name+"/"+streamName(stream), func(t *testing.T) {
				p := toolParams(t, tt.kv)
				tt.mod(&p)
				a := e.ask(stream, p)
				checkCalls(t, a, stream, "write_file", planOf(tt.kv).Seed, tt.calls)
				noMarkup(t, a)
				if want := planOf(tt.kv).BeforeText(); tt.calls == 0 && (strings.TrimRight(a.content, ws) != strings.TrimRight(want, ws) || a.finish != "stop") {
					t.Fatalf("content %q finish %q", a.content, a.finish)
				}
			})
		}
	}
}

// TestRequiredReasks: the model answers prose first (prose=N), the relay
// asks once more in the same conversation (tool_retries, default 1): the call
// arrives, or after a second prose answer that prose is returned; with
// tool_retries 0 it does not ask again.
func TestRequiredReasks(t *testing.T) {
	tests := []struct {
		name        string
		prose       int
		retries     int
		completions int64
		calls       int
	}{
		{"call on the second ask", 1, 1, 2, 1},
		{"prose twice", 9, 1, 2, 0},
		{"no re-ask configured", 1, 0, 1, 0},
	}
	for _, tt := range tests {
		e := start(t, setup{cfg: func(c *config.Config) { c.ToolRetries = tt.retries }})
		for _, stream := range both {
			t.Run(tt.name+"/"+streamName(stream), func(t *testing.T) {
				kv := fmt.Sprintf("calls=1 prose=%d id=req-%s seed=r1 tokens=5", tt.prose, streamName(stream))
				p := toolParams(t, kv)
				p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
				before := e.emu.Stats().Completions
				a := e.ask(stream, p)
				if n := e.emu.Stats().Completions - before; n != tt.completions {
					t.Fatalf("%d upstream completions, want %d", n, tt.completions)
				}
				noMarkup(t, a)
				if tt.calls > 0 {
					checkCalls(t, a, stream, "write_file", "r1", 1)
					if a.content != "" {
						t.Fatalf("the prose of the first answer reached the client: %q", a.content)
					}
					return
				}
				if a.err != nil || len(a.calls) != 0 || a.finish != "stop" || a.content != qwenfake.AnswerText("r1", 5) {
					t.Fatalf("err %v calls %d finish %q content %q", a.err, len(a.calls), a.finish, a.content)
				}
			})
		}
	}
}

// TestNotACall: blocks that never become a valid call come back as the
// text they were, byte-exact, and no call is made.
func TestNotACall(t *testing.T) {
	e := start(t, setup{})
	for _, kv := range []string{"calls=2 callfmt=bad calltext=both seed=n1 tokens=4",
		"calls=1 callfmt=undeclared seed=n2", "calls=1 callfmt=bad chunk=1 split=1 seed=n3"} {
		for _, stream := range both {
			t.Run(kv+"/"+streamName(stream), func(t *testing.T) {
				a := e.ask(stream, toolParams(t, kv))
				if a.err != nil || len(a.calls) != 0 || a.finish != "stop" {
					t.Fatalf("err %v calls %d finish %q", a.err, len(a.calls), a.finish)
				}
				if want := planOf(kv).Answer(); a.content != want {
					t.Fatalf("content\n got %q\nwant %q", a.content, want)
				}
			})
		}
	}
}

// TestCallInThinking: calls standing alone in the thinking phase are made,
// and calls in the answer after a thinking phase too.
func TestCallInThinking(t *testing.T) {
	e := start(t, setup{})
	for _, kv := range []string{"calls=2 callwhere=thinking seed=k1", "calls=1 callfmt=xml callwhere=thinking calltext=after seed=k2 tokens=3",
		"calls=2 callfmt=xml think=5 seed=k3"} {
		for _, stream := range both {
			t.Run(kv+"/"+streamName(stream), func(t *testing.T) {
				p := toolParams(t, kv)
				p.Model = model + "-thinking"
				a := e.ask(stream, p)
				plan := planOf(kv)
				checkCalls(t, a, stream, "write_file", plan.Seed, plan.Calls)
				noMarkup(t, a)
				if strings.Contains(a.reasoning, "<tool_call>") {
					t.Fatalf("the calls also came back as reasoning: %q", a.reasoning)
				}
				if !plan.InThinking && a.reasoning == "" {
					t.Fatal("no reasoning before the calls in the answer")
				}
				if want := strings.TrimSpace(plan.AfterText()); strings.TrimSpace(a.content) != want {
					t.Fatalf("content %q, want %q", a.content, want)
				}
			})
		}
	}
}

// BenchmarkRelayStreamTools is BenchmarkRelayStream64 with two tools
// declared: the prompt grows and every frame passes the tool-call parser.
func BenchmarkRelayStreamTools(b *testing.B) {
	e := start(b, setup{})
	var n atomic.Int64
	b.SetParallelism(25)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seed := "bt" + strconv.FormatInt(n.Add(1), 10)
			a := e.streamTools(context.Background(), toolParams(b, "tokens=64 seed="+seed))
			if a.err != nil || a.content != qwenfake.AnswerText(seed, 64) {
				b.Errorf("%v", a.err)
				return
			}
		}
	})
}

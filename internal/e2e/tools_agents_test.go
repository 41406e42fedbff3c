package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// echoed asks with the last user message ending in [[qwenfake echo=json]]
// and returns the prompt the emulator received.
func (e *env) echoed(t *testing.T, p openai.ChatCompletionNewParams) string {
	t.Helper()
	a := e.completeTools(context.Background(), p)
	if a.err != nil || len(a.calls) != 0 {
		t.Fatalf("echo: err %v, %d calls", a.err, len(a.calls))
	}
	var prompt string
	if err := json.Unmarshal([]byte(a.content), &prompt); err != nil {
		t.Fatalf("echo answer is not a JSON string: %v: %q", err, a.content)
	}
	return prompt
}

// TestTagLikeTextPassesExactly: text that only looks like a tag, and the
// example blocks of the relay's own tool instructions echoed back, pass
// through byte-exact.
func TestTagLikeTextPassesExactly(t *testing.T) {
	e := start(t, setup{})
	user := "Keep <b>bold</b>, a < b, a<b, 1<2>0, <tool_callx>, <tool_ and <function=f> as they are. "
	prompt := e.echoed(t, toolParamsText(t, user+"[[qwenfake echo=json]]"))
	want := strings.Replace(prompt, "echo=json", "echo=1", 1)
	if !strings.Contains(want, "<tool_call>") || !strings.Contains(want, user) {
		t.Fatalf("the prompt lacks the tool instructions or the text: %q", want)
	}
	for _, stream := range both {
		t.Run(streamName(stream), func(t *testing.T) {
			a := e.ask(stream, toolParamsText(t, user+"[[qwenfake echo=1]]"))
			if a.err != nil || len(a.calls) != 0 || a.finish != "stop" {
				t.Fatalf("err %v calls %d finish %q", a.err, len(a.calls), a.finish)
			}
			if a.content != want {
				t.Fatalf("content differs\n got %q\nwant %q", a.content, want)
			}
		})
	}
}

func toolParamsText(t testing.TB, text string) openai.ChatCompletionNewParams {
	p := toolParams(t, "")
	p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
	return p
}

// TestAgentLoopHistory: the calls the SDK got go back as the assistant's
// tool_calls with tool results; the emulator sees them rendered in the
// trained format, in order.
func TestAgentLoopHistory(t *testing.T) {
	e := start(t, setup{})
	for _, stream := range both {
		t.Run(streamName(stream), func(t *testing.T) {
			p := toolParams(t, "calls=2 seed=loop calltext=before tokens=3")
			p.Messages = append([]openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are a careful coder.")}, p.Messages...)
			first := e.ask(stream, p)
			checkCalls(t, first, stream, "write_file", "loop", 2)
			msg := first.msg
			p.Messages = append(p.Messages, msg.ToParam())
			results := []string{"wrote 12 bytes", "file <contents> \"quoted\"\nline 2"}
			for i, c := range msg.ToolCalls {
				p.Messages = append(p.Messages, openai.ToolMessage(results[i], c.ID))
			}
			p.Messages = append(p.Messages, openai.UserMessage("Go on. [[qwenfake echo=json]]"))
			prompt := e.echoed(t, p)
			var calls []string
			for i := range 2 {
				calls = append(calls, toolcall.RenderCall(toolcall.Call{Name: "write_file", Arguments: qwenfake.ToolCallArgs("loop", i)}))
			}
			order := []string{"system: # Tools", "<tools>", "system: You are a careful coder.", "user: Please act.",
				"assistant: " + strings.TrimRight(msg.Content, ws) + "\n" + strings.Join(calls, "\n"),
				"tool: " + toolcall.RenderResult(results[0]) + "\n" + toolcall.RenderResult(results[1]),
				"user: Go on."}
			at := 0
			for _, part := range order {
				i := strings.Index(prompt[at:], part)
				if i < 0 {
					t.Fatalf("the prompt lacks %q after byte %d:\n%s", part, at, prompt)
				}
				at += i + len(part)
			}
		})
	}
}

// agentTools declares n tools with Roo Code / Cline style schemas.
func agentTools(t testing.TB, names ...string) []openai.ChatCompletionToolUnionParam {
	var out []openai.ChatCompletionToolUnionParam
	for _, n := range names {
		schema := fmt.Sprintf(`{"type":"object","properties":{"path":{"type":"string","description":"Path of the file for %s, relative to the workspace"},`+
			`"content":{"type":"string"},"count":{"type":["integer","null"]},"line_range":{"type":"array","items":{"type":"string"}}},`+
			`"required":["path"],"additionalProperties":false}`, n)
		out = append(out, fnTool(t, n, schema))
	}
	return out
}

var (
	rooTools = []string{"read_file", "write_to_file", "apply_diff", "search_files", "list_files",
		"list_code_definition_names", "execute_command", "ask_followup_question", "attempt_completion",
		"switch_mode", "new_task", "update_todo_list", "fetch_instructions", "insert_content"}
	clineTools = []string{"execute_command", "read_file", "write_to_file", "replace_in_file", "search_files",
		"list_files", "ask_followup_question", "attempt_completion"}
)

// TestAgentShapes replays the request shapes of Roo Code (native tools,
// parallel_tool_calls false, include_usage, many tools, a long system
// prompt, content parts) and Cline.
func TestAgentShapes(t *testing.T) {
	e := start(t, setup{})
	system := "You are Roo, a highly skilled software engineer.\n\n====\n\nRULES\n\n" + strings.Repeat("- Use the tools; one tool per message.\n", 80)
	tests := []struct {
		name     string
		tools    []string
		kv       string
		parallel bool
		calls    int
	}{
		{"roo code", rooTools, "calls=2 seed=roo", false, 1},
		{"roo code xml", rooTools, "calls=2 callfmt=json_string seed=roo2", false, 1},
		{"cline", clineTools, "calls=2 calltext=before seed=cline tokens=4", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := openai.ChatCompletionNewParams{Model: model, Temperature: openai.Float(0),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system),
					openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
						openai.TextContentPart("<task>\nFix the failing test in src/main.go\n</task>"),
						openai.TextContentPart("<environment_details>\n# VSCode Visible Files\nsrc/main.go\n</environment_details> [[qwenfake " + tt.kv + "]]"),
					})},
				Tools: agentTools(t, tt.tools...)}
			if !tt.parallel {
				p.ParallelToolCalls = openai.Bool(false)
			}
			a := e.streamTools(context.Background(), p)
			checkCalls(t, a, true, tt.tools[0], planOf(tt.kv).Seed, tt.calls)
			noMarkup(t, a)
			if want := strings.TrimRight(planOf(tt.kv).BeforeText(), ws); a.content != want {
				t.Fatalf("content %q, want %q", a.content, want)
			}
		})
	}
}

// TestToolAnswerRetried: a soft fault before the answer is retried and the
// calls arrive once.
func TestToolAnswerRetried(t *testing.T) {
	e := start(t, setup{})
	for _, stream := range both {
		t.Run(streamName(stream), func(t *testing.T) {
			kv := "calls=2 seed=rt fail=http500 times=1 id=rt-" + streamName(stream)
			before := e.emu.Stats()
			a := e.ask(stream, toolParams(t, kv))
			checkCalls(t, a, stream, "write_file", "rt", 2)
			after := e.emu.Stats()
			if n, f := after.Completions-before.Completions, after.Failures["http500"]-before.Failures["http500"]; n != 2 || f != 1 {
				t.Fatalf("%d completions, %d http500 failures; want 2 and 1", n, f)
			}
		})
	}
}

// TestNoneWithOnlyCalls: with tool_choice none, an answer that is nothing
// but calls (copied from history, say) leaves nothing to say. The relay
// never returns that silently empty: it is an empty answer, retried, and
// after the retries a typed upstream_empty_answer error.
func TestNoneWithOnlyCalls(t *testing.T) {
	e := start(t, setup{})
	for _, stream := range both {
		t.Run(streamName(stream), func(t *testing.T) {
			p := toolParams(t, "calls=2 name=write_file seed=none")
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
			a := e.ask(stream, p)
			if a.err == nil || len(a.calls) != 0 || a.content != "" || !strings.Contains(a.err.Error(), "502") {
				t.Fatalf("err %v calls %d content %q finish %q", a.err, len(a.calls), a.content, a.finish)
			}
		})
	}
}

// TestToolCallDeltasOnTheWire reads the raw chunks: a call's first delta
// carries index, id, type and name; later ones only argument text.
func TestToolCallDeltasOnTheWire(t *testing.T) {
	e := start(t, setup{})
	body := `{"model":"` + model + `","stream":true,"stream_options":{"include_usage":true},` +
		`"tools":[{"type":"function","function":{"name":"write_file","parameters":` + qwenfake.ToolSchema + `}}],` +
		`"messages":[{"role":"user","content":"Go. [[qwenfake calls=3 callfmt=xml seed=wire]]"}]}`
	req, _ := http.NewRequest(http.MethodPost, e.relay.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := e.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	type delta struct {
		Index    *int    `json:"index"`
		ID       *string `json:"id"`
		Type     *string `json:"type"`
		Function struct {
			Name      *string `json:"name"`
			Arguments string  `json:"arguments"`
		} `json:"function"`
	}
	args := map[int]string{}
	var finish string
	usage := false
	for _, line := range strings.Split(string(raw), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content   *string `json:"content"`
					ToolCalls []delta `json:"tool_calls"`
				} `json:"delta"`
				Finish *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		usage = usage || (c.Usage != nil && c.Usage.TotalTokens > 0)
		for _, ch := range c.Choices {
			if ch.Finish != nil {
				finish = *ch.Finish
			}
			for _, d := range ch.Delta.ToolCalls {
				if d.Index == nil {
					t.Fatalf("a tool_calls delta without index: %s", data)
				}
				_, seen := args[*d.Index]
				first := d.ID != nil && *d.ID != "" && d.Type != nil && *d.Type == "function" && d.Function.Name != nil && *d.Function.Name == "write_file"
				if seen == first || (seen && (d.ID != nil || d.Function.Name != nil)) {
					t.Fatalf("call %d: seen before %v, delta %s", *d.Index, seen, data)
				}
				args[*d.Index] += d.Function.Arguments
			}
		}
	}
	if len(args) != 3 || finish != "tool_calls" || !usage {
		t.Fatalf("%d calls, finish %q, usage %v:\n%s", len(args), finish, usage, raw)
	}
	for i := range 3 {
		if args[i] != qwenfake.ToolCallArgs("wire", i) {
			t.Fatalf("call %d arguments %s", i, args[i])
		}
	}
}

// TestCustomToolCall: a custom (freeform) tool such as apply_patch gets its
// raw input back unchanged, streamed and not.
func TestCustomToolCall(t *testing.T) {
	e := start(t, setup{})
	for _, kv := range []string{"calls=1 callfmt=custom name=apply_patch seed=cu1", "calls=2 callfmt=custom name=apply_patch chunk=1 seed=cu2"} {
		for _, stream := range both {
			t.Run(kv+"/"+streamName(stream), func(t *testing.T) {
				p := toolParams(t, kv)
				p.Tools = append(p.Tools, openai.ChatCompletionCustomTool(openai.ChatCompletionCustomToolCustomParam{
					Name: "apply_patch", Description: openai.String("Apply a patch.")}))
				a := e.ask(stream, p)
				plan := planOf(kv)
				got := a.customs
				if !stream {
					got = nil
					for _, c := range a.calls {
						if c.Type == "custom" {
							got = append(got, customCall{c.Custom.Name, c.Custom.Input})
						}
					}
				}
				if a.err != nil || len(got) != plan.Calls || a.finish != "tool_calls" {
					t.Fatalf("err %v, %d custom calls, finish %q, content %q", a.err, len(got), a.finish, a.content)
				}
				for i, c := range got {
					if c.Name != "apply_patch" || c.Input != qwenfake.ToolCallInput(plan.Seed, i) {
						t.Fatalf("call %d: %+v", i, c)
					}
				}
				noMarkup(t, a)
			})
		}
	}
}

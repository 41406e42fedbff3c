package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

const writeFileSchema = `{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"},` +
	`"count":{"type":"integer"}},"required":["path","content"],"$schema":"http://json-schema.org/draft-07/schema#"}`

// toolsParams declares write_file (the emulator's default callee: the
// first tool) and read_file.
func toolsParams(t *testing.T, text string) anthropic.MessageNewParams {
	t.Helper()
	p := userParams("claude-sonnet-4-5", text)
	for _, name := range []string{"write_file", "read_file"} {
		var schema anthropic.ToolInputSchemaParam
		if err := json.Unmarshal([]byte(writeFileSchema), &schema); err != nil {
			t.Fatal(err)
		}
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
			Name: name, Description: anthropic.String("Tool " + name), InputSchema: schema}})
	}
	return p
}

// ask runs p streamed or not and returns what the SDK hands its user.
func askAnthropic(t *testing.T, c anthropic.Client, stream bool, p anthropic.MessageNewParams, opts ...aoption.RequestOption) anthropic.Message {
	t.Helper()
	if stream {
		st := c.Messages.NewStreaming(context.Background(), p, opts...)
		defer st.Close()
		var msg anthropic.Message
		for st.Next() {
			if err := msg.Accumulate(st.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	msg, err := c.Messages.New(context.Background(), p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return *msg
}

var bothModes = []bool{false, true}

func modeName(stream bool) string {
	return map[bool]string{false: "non-stream", true: "stream"}[stream]
}

// checkWriteFile checks a tool_use block is the emulator's call i.
func checkWriteFile(t *testing.T, b anthropic.ContentBlockUnion, i int) {
	t.Helper()
	tu := b.AsToolUse()
	var in struct {
		Path    string `json:"path"`
		Content string `json:"content"`
		Count   int    `json:"count"`
	}
	if err := json.Unmarshal(tu.Input, &in); err != nil || tu.Type != "tool_use" || tu.Name != "write_file" || !strings.HasPrefix(tu.ID, "toolu_") {
		t.Fatalf("block %d = %s (%v)", i, b.RawJSON(), err)
	}
	if in.Count != i+1 || !strings.HasPrefix(in.Path, "src/模块_"+strconv.Itoa(i)+"/") ||
		!strings.Contains(in.Content, "line 2: </tool_call> is text") || !strings.Contains(in.Content, "你好，世界 🙂") {
		t.Errorf("call %d input = %s", i, tu.Input)
	}
}

// TestAnthropicToolUse: calls split into 1-3 byte frames come back as
// tool_use blocks, the same whether streamed (input_json_delta, as the SDK
// accumulates it) or not.
func TestAnthropicToolUse(t *testing.T) {
	_, c := startAnthropic(t)
	var inputs [2][]string
	for k, stream := range bothModes {
		t.Run(modeName(stream), func(t *testing.T) {
			msg := askAnthropic(t, c, stream, toolsParams(t, "Write two files. [[qwenfake calls=2 seed=tw calltext=before tokens=3]]"))
			if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 3 || msg.Content[0].Text != qwenfake.AnswerText("tw", 3) {
				t.Fatalf("message = %s", msg.RawJSON())
			}
			for i := range 2 {
				checkWriteFile(t, msg.Content[i+1], i)
				inputs[k] = append(inputs[k], string(msg.Content[i+1].Input))
			}
			if msg.Content[1].ID == msg.Content[2].ID {
				t.Errorf("tool_use ids repeat: %s", msg.Content[1].ID)
			}
		})
	}
	if strings.Join(inputs[0], "|") != strings.Join(inputs[1], "|") {
		t.Errorf("stream and non-stream inputs differ:\n%v\n%v", inputs[0], inputs[1])
	}
}

// TestAnthropicToolChoice: disable_parallel_tool_use keeps the first call,
// tool_choice none returns none, a call in the thinking phase is a call.
func TestAnthropicToolChoice(t *testing.T) {
	_, c := startAnthropic(t)
	for _, stream := range bothModes {
		t.Run(modeName(stream)+"/no parallel", func(t *testing.T) {
			p := toolsParams(t, "Two files. [[qwenfake calls=2 seed=np]]")
			p.ToolChoice = anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{DisableParallelToolUse: anthropic.Bool(true)}}
			msg := askAnthropic(t, c, stream, p)
			if len(msg.Content) != 1 || msg.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("message = %s", msg.RawJSON())
			}
			checkWriteFile(t, msg.Content[0], 0)
		})
		t.Run(modeName(stream)+"/none", func(t *testing.T) {
			p := toolsParams(t, "No tools. [[qwenfake calls=1 seed=nn calltext=before tokens=2]]")
			p.ToolChoice = anthropic.ToolChoiceUnionParam{OfNone: &anthropic.ToolChoiceNoneParam{}}
			msg := askAnthropic(t, c, stream, p)
			for _, b := range msg.Content {
				if b.Type == "tool_use" {
					t.Fatalf("a call despite tool_choice none: %s", msg.RawJSON())
				}
			}
			if msg.StopReason != anthropic.StopReasonEndTurn {
				t.Errorf("stop_reason = %s", msg.StopReason)
			}
		})
		t.Run(modeName(stream)+"/call in thinking", func(t *testing.T) {
			p := toolsParams(t, "Think, then call. [[qwenfake calls=1 seed=ct callwhere=thinking]]")
			p.Thinking = anthropic.ThinkingConfigParamOfEnabled(1024)
			msg := askAnthropic(t, c, stream, p)
			last := msg.Content[len(msg.Content)-1]
			if last.Type != "tool_use" || msg.StopReason != anthropic.StopReasonToolUse {
				t.Fatalf("message = %s", msg.RawJSON())
			}
			checkWriteFile(t, last, 0)
		})
	}
}

// echoPrompt asks with echo=json appended to the last user turn and
// returns the prompt the emulator received.
func echoPrompt(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams) string {
	t.Helper()
	msg := askAnthropic(t, c, false, p)
	last := msg.Content[len(msg.Content)-1]
	if last.Type != "text" {
		t.Fatalf("echo answer = %s", msg.RawJSON())
	}
	var prompt string
	if err := json.Unmarshal([]byte(last.Text), &prompt); err != nil {
		t.Fatalf("echo answer is not a JSON string: %v", err)
	}
	return prompt
}

// TestAnthropicAgentLoop: the SDK's message goes back as history with
// tool_result blocks (one an error); the upstream sees the calls and
// results in the trained format, and no replayed thinking.
func TestAnthropicAgentLoop(t *testing.T) {
	_, c := startAnthropic(t)
	p := toolsParams(t, "Write two files. [[qwenfake calls=2 seed=loop think=2]]")
	p.Thinking = anthropic.ThinkingConfigParamOfEnabled(1024)
	first := askAnthropic(t, c, true, p)
	if first.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("first turn = %s", first.RawJSON())
	}
	results := []anthropic.ContentBlockParamUnion{}
	for i, b := range first.Content {
		if b.Type == "tool_use" {
			results = append(results, anthropic.NewToolResultBlock(b.ID, "result <"+strconv.Itoa(i)+">", i == 2))
		}
	}
	results = append(results, anthropic.NewTextBlock("Go on. [[qwenfake echo=json]]"))
	p.Messages = append(p.Messages, first.ToParam(), anthropic.NewUserMessage(results...))
	prompt := echoPrompt(t, c, p)
	for _, want := range []string{"<tools>", `"name": "write_file"`, "<tool_call>", "<tool_response>\nresult <1>\n</tool_response>",
		"<tool_response>\n[tool error] result <2>\n</tool_response>", "Go on."} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, prompt)
		}
	}
	if th := first.Content[0].Thinking; th == "" || strings.Contains(prompt, th) {
		t.Errorf("the replayed thinking %q is missing from the answer or was sent upstream", th)
	}
}

// TestAnthropicClaudeCodeTools replays the Claude Code request shape: the
// prompt the upstream gets, and a Bash call coming back.
func TestAnthropicClaudeCodeTools(t *testing.T) {
	e, _ := startAnthropic(t)
	resp := e.postRaw(t, claudeCodeRequest(t, "[[qwenfake echo=json]]"))
	body, events := readEvents(t, resp)
	var prompt string
	if err := json.Unmarshal([]byte(body.Content[len(body.Content)-1].Text), &prompt); err != nil {
		t.Fatalf("echo: %v (%v)", err, events)
	}
	for _, want := range []string{"You are Claude Code", "TodoWrite", "mcp__github__create_issue", "Run go test before committing.",
		"[tool error] --- FAIL: TestSplit", "parser.go:12:func Split", "The TodoWrite tool hasn't been used recently."} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the prompt lacks %q", want)
		}
	}
	for _, not := range []string{"x-anthropic-billing-header", "draft-07/schema", "Run the tests and search for Split.", "cache_control"} {
		if strings.Contains(prompt, not) {
			t.Errorf("the prompt holds %q", not)
		}
	}
	resp = e.postRaw(t, claudeCodeRequest(t, "[[qwenfake calls=1 name=Bash seed=cc think=2]]"))
	msg, _ := readEvents(t, resp)
	last := msg.Content[len(msg.Content)-1]
	if last.Type != "tool_use" || last.Name != "Bash" || msg.StopReason != anthropic.StopReasonToolUse || !json.Valid(last.Input) {
		t.Errorf("message = %s", msg.RawJSON())
	}
	t.Logf("the upstream prompt of the Claude Code request: %d bytes (request %d bytes)", len(prompt), len(claudeCodeRequest(t, "")))
}

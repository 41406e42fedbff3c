package responses

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

func decode(t *testing.T, c *Codec, body string) (*api.Request, error) {
	t.Helper()
	return c.Decode(context.Background(), []byte(body), http.Header{})
}

func TestDecodeCodexRequest(t *testing.T) {
	body, err := os.ReadFile("testdata/codex_request.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := New(nil, 0).Decode(context.Background(), body, http.Header{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	ex := req.Extra.(*extra)
	if req.Model != "gpt-5-codex" || !req.Stream || ex.store || req.Parallel || ex.parallel {
		t.Errorf("model %q stream %v store %v parallel %v", req.Model, req.Stream, ex.store, req.Parallel)
	}
	if req.Thinking == nil || !*req.Thinking || req.ThinkingBudget != 8192 {
		t.Errorf("thinking %v budget %d, want on with 8192 (effort medium)", req.Thinking, req.ThinkingBudget)
	}
	// shell, update_plan and apply_patch; web_search and local_shell are hosted and dropped.
	if len(req.Tools) != 3 || req.Tools[0].Name != "shell" || req.Tools[2].Name != "apply_patch" || !req.Tools[2].Custom {
		t.Fatalf("tools = %+v", req.Tools)
	}
	if f := req.Tools[2].Format; f == "" || !strings.Contains(f, "lark") || !strings.Contains(f, "begin_patch") {
		t.Errorf("apply_patch format = %q, want the lark grammar", f)
	}
	if req.ToolChoice.Mode != toolcall.Auto {
		t.Errorf("tool choice = %+v", req.ToolChoice)
	}
	want := []api.Message{
		{Role: "system", Text: "You are Codex, a coding agent running in the Codex CLI on a user's computer."},
		{Role: "system", Text: "<permissions instructions>sandbox: workspace-write</permissions instructions>"},
		{Role: "user", Text: "<environment_context>\n  <cwd>/home/user/project</cwd>\n  <shell>bash</shell>\n</environment_context>"},
		{Role: "user", Text: "Fix the typo in README.md"},
		{Role: "assistant", Reasoning: "**Looking at the file**\n\nI should read README.md first.", ToolCalls: []toolcall.Call{{
			ID: "call_a1", Name: "shell", Arguments: `{"command":["bash","-lc","cat README.md"],"workdir":"/home/user/project"}`}}},
		{Role: "tool", Text: "# Projcet\nHello", ToolCallID: "call_a1", ToolName: "shell"},
		{Role: "assistant", ToolCalls: []toolcall.Call{{ID: "call_b2", Name: "apply_patch", Custom: true,
			Input: "*** Begin Patch\n*** Update File: README.md\n@@\n-# Projcet\n+# Project\n*** End Patch\n"}}},
		{Role: "tool", Text: "Success. Updated the following files:\nM README.md\n", ToolCallID: "call_b2", ToolName: "apply_patch"},
		{Role: "assistant", Text: "Fixed the typo."},
		{Role: "user", Text: "Thanks. Now run the tests."},
	}
	assertMessages(t, req.Messages, want)
}

func assertMessages(t *testing.T, got, want []api.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d:\n got %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestDecode(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		name  string
		body  string
		check func(t *testing.T, r *api.Request)
	}{
		{"string input", `{"model":"m","input":"hi"}`, func(t *testing.T, r *api.Request) {
			assertMessages(t, r.Messages, []api.Message{{Role: "user", Text: "hi"}})
			ex := r.Extra.(*extra)
			if !ex.store || !r.Parallel || r.Stream || r.Thinking != nil || len(r.Tools) != 0 {
				t.Errorf("defaults: store %v parallel %v stream %v thinking %v", ex.store, r.Parallel, r.Stream, r.Thinking)
			}
		}},
		{"instructions and easy messages", `{"model":"m","instructions":"be brief","input":[
			{"role":"system","content":"sys"},{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
			{"role":"assistant","content":"c"}]}`, func(t *testing.T, r *api.Request) {
			assertMessages(t, r.Messages, []api.Message{{Role: "system", Text: "be brief"}, {Role: "system", Text: "sys"},
				{Role: "user", Text: "ab"}, {Role: "assistant", Text: "c"}})
		}},
		{"effort minimal is off", `{"model":"m","input":"x","reasoning":{"effort":"minimal"}}`, func(t *testing.T, r *api.Request) {
			if r.Thinking == nil || *r.Thinking != off {
				t.Errorf("thinking = %v, want off", r.Thinking)
			}
		}},
		{"effort high", `{"model":"m","input":"x","reasoning":{"effort":"high","summary":"detailed"}}`, func(t *testing.T, r *api.Request) {
			if r.Thinking == nil || *r.Thinking != on || r.ThinkingBudget != 0 {
				t.Errorf("thinking = %v budget %d", r.Thinking, r.ThinkingBudget)
			}
		}},
		{"max output tokens", `{"model":"m","input":"x","max_output_tokens":300}`, func(t *testing.T, r *api.Request) {
			if r.MaxTokens != 300 {
				t.Errorf("max tokens = %d", r.MaxTokens)
			}
		}},
		{"tool choice named custom", `{"model":"m","input":"x","tools":[{"type":"custom","name":"apply_patch"}],
			"tool_choice":{"type":"custom","name":"apply_patch"}}`, func(t *testing.T, r *api.Request) {
			if r.ToolChoice != (toolcall.Choice{Mode: toolcall.Function, Name: "apply_patch"}) || !r.Tools[0].Custom {
				t.Errorf("choice %+v tools %+v", r.ToolChoice, r.Tools)
			}
		}},
		{"tool choice required, hosted choice", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"required"}`,
			func(t *testing.T, r *api.Request) {
				if r.ToolChoice.Mode != toolcall.Required {
					t.Errorf("choice %+v", r.ToolChoice)
				}
			}},
		{"hosted tool choice is auto", `{"model":"m","input":"x","tools":[{"type":"web_search_preview"}],"tool_choice":{"type":"web_search_preview"}}`,
			func(t *testing.T, r *api.Request) {
				if r.ToolChoice.Mode != toolcall.Auto || len(r.Tools) != 0 {
					t.Errorf("choice %+v tools %+v", r.ToolChoice, r.Tools)
				}
			}},
		{"additional_tools item and namespace", `{"model":"m","input":[
			{"type":"additional_tools","role":"developer","tools":[{"type":"namespace","name":"ns","tools":[{"type":"custom","name":"exec"}]}]},
			{"role":"user","content":"go"}]}`, func(t *testing.T, r *api.Request) {
			if len(r.Tools) != 1 || r.Tools[0].Name != "exec" || !r.Tools[0].Custom {
				t.Errorf("tools %+v", r.Tools)
			}
			assertMessages(t, r.Messages, []api.Message{{Role: "user", Text: "go"}})
		}},
		{"parallel calls group into one turn", `{"model":"m","tools":[{"type":"function","name":"f"}],"input":[
			{"role":"user","content":"q"},
			{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},
			{"type":"function_call","call_id":"c2","name":"f","arguments":{"a":2}},
			{"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"r1"}]},
			{"type":"function_call_output","call_id":"c2","output":"r2"}]}`, func(t *testing.T, r *api.Request) {
			assertMessages(t, r.Messages, []api.Message{{Role: "user", Text: "q"},
				{Role: "assistant", ToolCalls: []toolcall.Call{{ID: "c1", Name: "f", Arguments: `{"a":1}`}, {Index: 1, ID: "c2", Name: "f", Arguments: `{"a":2}`}}},
				{Role: "tool", Text: "r1", ToolCallID: "c1", ToolName: "f"}, {Role: "tool", Text: "r2", ToolCallID: "c2", ToolName: "f"}})
		}},
		{"replayed reasoning goes with the next assistant turn", `{"model":"m","input":[{"role":"user","content":"q"},
			{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"a"},{"type":"summary_text","text":"b"}],"encrypted_content":"zz"},
			{"role":"assistant","content":[{"type":"output_text","text":"ans"}]},
			{"type":"reasoning","summary":[{"type":"summary_text","text":"dangling"}]}]}`, func(t *testing.T, r *api.Request) {
			assertMessages(t, r.Messages, []api.Message{{Role: "user", Text: "q"}, {Role: "assistant", Text: "ans", Reasoning: "a\n\nb"}})
		}},
		{"hosted call records dropped", `{"model":"m","input":[{"type":"web_search_call","id":"ws_1","status":"completed"},
			{"type":"compaction","encrypted_content":"x"},{"role":"user","content":"q"}]}`, func(t *testing.T, r *api.Request) {
			assertMessages(t, r.Messages, []api.Message{{Role: "user", Text: "q"}})
		}},
		{"json schema becomes an instruction", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n","strict":true,
			"schema":{"type":"object"}}}}`, func(t *testing.T, r *api.Request) {
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || !strings.Contains(r.Messages[0].Text, `{"type":"object"}`) {
				t.Errorf("messages %+v", r.Messages)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decode(t, New(nil, 0), tc.body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tc.check(t, r)
		})
	}
}

func TestErrorCodes(t *testing.T) {
	c := New(nil, 0)
	for _, tc := range []struct {
		p         *api.Problem
		typ, code string
	}{
		{&api.Problem{Status: 404, Class: api.ClassNotFound, Code: "previous_response_not_found"}, "invalid_request_error", "previous_response_not_found"},
		{&api.Problem{Status: 400, Class: api.ClassInvalidRequest, Code: "context_too_large"}, "invalid_request_error", "context_length_exceeded"},
		{&api.Problem{Status: 429, Class: api.ClassRateLimit, Code: "upstream_rate_limited"}, "rate_limit_error", "rate_limit_exceeded"},
		{&api.Problem{Status: 502, Class: api.ClassUpstream, Code: "upstream_error"}, "upstream_error", "upstream_error"},
	} {
		t.Run(tc.p.Code, func(t *testing.T) {
			status, body := c.Error(tc.p)
			var e struct {
				Error struct{ Type, Code string }
			}
			if status != tc.p.Status || json.Unmarshal(body, &e) != nil || e.Error.Type != tc.typ || e.Error.Code != tc.code {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		status int
		param  string
	}{
		{"not json", `{`, 400, ""},
		{"no model", `{"input":"x"}`, 400, "model"},
		{"no input", `{"model":"m"}`, 400, "input"},
		{"input a number", `{"model":"m","input":3}`, 400, "input"},
		{"bad role", `{"model":"m","input":[{"role":"robot","content":"x"}]}`, 400, "input[0].role"},
		{"image in assistant message", `{"model":"m","input":[{"role":"assistant","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]}`, 400, "input[0].content"},
		{"image in tool output without url", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image"}]}]}`, 400, "input[0].output[0]"},
		{"file by id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, 400, "input[0].content[0]"},
		{"audio", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]}`, 400, "input[0].content[0]"},
		{"unknown item", `{"model":"m","input":[{"type":"teleport"}]}`, 400, "input[0].type"},
		{"call without id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, 400, "input[0].call_id"},
		{"output without id", `{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, 400, "input[0].call_id"},
		{"bad effort", `{"model":"m","input":"x","reasoning":{"effort":"extreme"}}`, 400, "reasoning.effort"},
		{"bad tool choice", `{"model":"m","input":"x","tool_choice":"sometimes"}`, 400, "tool_choice"},
		{"choice of undeclared", `{"model":"m","input":"x","tool_choice":{"type":"function","name":"f"}}`, 400, "tool_choice"},
		{"required without tools", `{"model":"m","input":"x","tool_choice":"required"}`, 400, "tool_choice"},
		{"tool without type", `{"model":"m","input":"x","tools":[{"name":"f"}]}`, 400, "tools[0].type"},
		{"bad tool name", `{"model":"m","input":"x","tools":[{"type":"function","name":"a b"}]}`, 400, "tools[0].name"},
		{"bad max tokens", `{"model":"m","input":"x","max_output_tokens":0}`, 400, "max_output_tokens"},
		{"background", `{"model":"m","input":"x","background":true}`, 400, "background"},
		{"unknown previous", `{"model":"m","input":"x","previous_response_id":"resp_nope"}`, 404, "previous_response_id"},
		{"unresolvable reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_abc"}]}`, 400, "input[0].id"},
		{"bad text format", `{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}`, 400, "text.format.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, New(NewMemoryStore(nil), 0), tc.body)
			var p *api.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err = %v, want a *api.Problem", err)
			}
			if p.Status != tc.status || p.Param != tc.param {
				t.Fatalf("status %d param %q (%s), want %d %q", p.Status, p.Param, p.Message, tc.status, tc.param)
			}
			status, body := New(nil, 0).Error(p)
			var e struct {
				Error struct {
					Message, Type string
					Param, Code   *string
				}
			}
			if status != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("error body %d %s", status, body)
			}
		})
	}
}

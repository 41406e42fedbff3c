package anthropic

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

func ptr[T any](v T) *T { return &v }

// mustDecode decodes body or fails the test.
func mustDecode(t *testing.T, body string) *api.Request {
	t.Helper()
	req, err := New().Decode(context.Background(), []byte(body), nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return req
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want api.Request
	}{
		{
			name: "string content and string system",
			body: `{"model":"claude-x","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":"hi"}]}`,
			want: api.Request{Model: "claude-x", MaxTokens: 100, Parallel: true, Messages: []api.Message{
				{Role: "system", Text: "be brief"}, {Role: "user", Text: "hi"}}},
		},
		{
			name: "system blocks with cache_control, billing header dropped, ignored members",
			body: `{"model":"m","max_tokens":1,"stream":true,"temperature":0.2,"top_p":1,"top_k":5,"stop_sequences":["x"],
				"metadata":{"user_id":"u"},"unknown_member":{"a":1},
				"system":[{"type":"text","text":"x-anthropic-billing-header: cch=1;"},{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},{"type":"text","text":"B"}],
				"messages":[{"role":"user","content":[{"type":"text","text":"one","cache_control":{"type":"ephemeral"}},{"type":"text","text":"two"}]}]}`,
			want: api.Request{Model: "m", MaxTokens: 1, Stream: true, Parallel: true, Messages: []api.Message{
				{Role: "system", Text: "A\nB"}, {Role: "user", Text: "one\ntwo"}}},
		},
		{
			name: "tool history: calls, results (one an error), thinking replayed",
			body: `{"model":"m","max_tokens":9,"messages":[
				{"role":"user","content":"go"},
				{"role":"assistant","content":[{"type":"thinking","thinking":"plan","signature":"sig"},{"type":"redacted_thinking","data":"xx"},
					{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
					{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"u","encrypted_content":"e"}]},
					{"type":"text","text":"ok"},{"type":"tool_use","id":"toolu_1","name":"get","input":{"a": 1, "b":[true]}},
					{"type":"tool_use","id":"toolu_2","name":"put","input":{}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r1"},
					{"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"bad"},{"type":"image","source":{}}],"is_error":true},
					{"type":"text","text":"next"}]}]}`,
			want: api.Request{Model: "m", MaxTokens: 9, Parallel: true, Messages: []api.Message{
				{Role: "user", Text: "go"},
				{Role: "assistant", Text: "ok", Reasoning: "plan", ToolCalls: []toolcall.Call{
					{Index: 0, ID: "toolu_1", Name: "get", Arguments: `{"a":1,"b":[true]}`},
					{Index: 1, ID: "toolu_2", Name: "put", Arguments: `{}`}}},
				{Role: "tool", ToolCallID: "toolu_1", ToolName: "get", Text: "r1"},
				{Role: "tool", ToolCallID: "toolu_2", ToolName: "put", Text: "[tool error] bad\n[image omitted: images and files are not supported yet]"},
				{Role: "user", Text: "next"}}},
		},
		{
			name: "thinking enabled with budget; tools; tool_choice any without parallel",
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],
				"thinking":{"type":"enabled","budget_tokens":2048},
				"tools":[{"name":"f","description":"d","input_schema":{"type":"object"}},{"type":"custom","name":"g","input_schema":{}}],
				"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
			want: api.Request{Model: "m", MaxTokens: 9, Thinking: ptr(true), ThinkingBudget: 2048,
				Messages:   []api.Message{{Role: "user", Text: "x"}},
				Tools:      []toolcall.Tool{{Name: "f", Description: "d", Parameters: []byte(`{"type":"object"}`)}, {Name: "g", Parameters: []byte(`{}`)}},
				ToolChoice: toolcall.Choice{Mode: toolcall.Required}},
		},
		{
			name: "thinking adaptive, tool_choice tool",
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"adaptive"},
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`,
			want: api.Request{Model: "m", MaxTokens: 9, Thinking: ptr(true), Parallel: true,
				Messages:   []api.Message{{Role: "user", Text: "x"}},
				Tools:      []toolcall.Tool{{Name: "f", Parameters: []byte(`{"type":"object"}`)}},
				ToolChoice: toolcall.Choice{Mode: toolcall.Function, Name: "f"}},
		},
		{
			name: "thinking disabled, tool_choice none",
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"disabled"},
				"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"}}`,
			want: api.Request{Model: "m", MaxTokens: 9, Thinking: ptr(false), Parallel: true,
				Messages:   []api.Message{{Role: "user", Text: "x"}},
				Tools:      []toolcall.Tool{{Name: "f", Parameters: []byte(`{"type":"object"}`)}},
				ToolChoice: toolcall.Choice{Mode: toolcall.None}},
		},
		{
			name: "Anthropic-defined client tools get their schema",
			body: `{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],
				"tools":[{"type":"bash_20250124","name":"bash"},{"type":"text_editor_20250728","name":"str_replace_based_edit_tool"}]}`,
			want: api.Request{Model: "m", MaxTokens: 9, Parallel: true, Messages: []api.Message{{Role: "user", Text: "x"}},
				Tools: []toolcall.Tool{
					{Name: "bash", Description: "Run a command in a persistent bash shell.", Parameters: []byte(bashSchema)},
					{Name: "str_replace_based_edit_tool", Description: "View, create and edit text files.", Parameters: []byte(editorSchema)}}},
		},
		{
			name: "assistant prefill as a string; null members are absent",
			body: `{"model":"m","max_tokens":9,"system":null,"stream":null,"tools":null,"thinking":null,
				"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"{"}]}`,
			want: api.Request{Model: "m", MaxTokens: 9, Parallel: true,
				Messages: []api.Message{{Role: "user", Text: "x"}, {Role: "assistant", Text: "{"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustDecode(t, tt.body)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name      string
		body      string
		param     string
		inMessage string
	}{
		{"not JSON", `{"model":`, "", "not valid JSON"},
		{"not an object", `[1]`, "", "must be a JSON object"},
		{"missing model", `{"max_tokens":1,` + msgs + `}`, "model", "model: field required"},
		{"model a number", `{"model":5,"max_tokens":1,` + msgs + `}`, "model", "model: expected a string, got a number"},
		{"missing max_tokens", `{"model":"m",` + msgs + `}`, "max_tokens", "max_tokens: field required"},
		{"max_tokens a string", `{"model":"m","max_tokens":"9",` + msgs + `}`, "max_tokens", "max_tokens: expected an integer, got a string"},
		{"max_tokens fractional", `{"model":"m","max_tokens":1.5,` + msgs + `}`, "max_tokens", "expected an integer, got the number 1.5"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens", "at least 1"},
		{"stream a string", `{"model":"m","max_tokens":1,"stream":"yes",` + msgs + `}`, "stream", "stream: expected true or false, got a string"},
		{"metadata an array", `{"model":"m","max_tokens":1,"metadata":[],` + msgs + `}`, "metadata", "metadata: expected an object, got an array"},
		{"temperature a string", `{"model":"m","max_tokens":1,"temperature":"hot",` + msgs + `}`, "temperature", "expected a number"},
		{"missing messages", `{"model":"m","max_tokens":1}`, "messages", "messages: field required"},
		{"empty messages", `{"model":"m","max_tokens":1,"messages":[]}`, "messages", "at least one message"},
		{"messages an object", `{"model":"m","max_tokens":1,"messages":{}}`, "messages", "messages: expected an array, got an object"},
		{"system role in messages", `{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role", "top-level \"system\""},
		{"bad role", `{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role", `got "tool"`},
		{"content a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":3}]}`, "messages[0].content", "expected a string or an array of content blocks, got a number"},
		{"text not a string", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages[0].content[0].text", "messages[0].content[0].text: expected a string"},
		{"block without type", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"text":"a"}]}]}`, "messages[0].content[0].type", "field required"},
		{"image without data", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64"}}]}]}`, "messages[0].content[0].source", "needs media_type and data"},
		{"image by file id", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type", "no Files API"},
		{"image url not http", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"file:///etc/passwd"}}]}]}`, "messages[0].content[0].source.url", "http(s) URL"},
		{"image in assistant turn", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}`, "messages[0].content[0].type", "only accepted in user turns"},
		{"unknown block", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "messages[0].content[0].type", `"video"`},
		{"tool_use input a string", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"{}"}]}]}`, "messages[0].content[0].input", "expected an object, got a string"},
		{"tool_use without name", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","input":{}}]}]}`, "messages[0].content[0].name", "field required"},
		{"tool_result without id", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "messages[0].content[0].tool_use_id", "field required"},
		{"tool_result content a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":1}]}]}`, "messages[0].content[0].content", "got a number"},
		{"system a number", `{"model":"m","max_tokens":1,"system":1,` + msgs + `}`, "system", "expected a string or an array of text blocks"},
		{"system block not text", `{"model":"m","max_tokens":1,"system":[{"type":"image"}],` + msgs + `}`, "system[0].type", `got "image"`},
		{"thinking unknown type", `{"model":"m","max_tokens":1,"thinking":{"type":"on"},` + msgs + `}`, "thinking.type", `got "on"`},
		{"budget a string", `{"model":"m","max_tokens":1,"thinking":{"type":"enabled","budget_tokens":"many"},` + msgs + `}`, "thinking.budget_tokens", "expected an integer"},
		{"tools an object", `{"model":"m","max_tokens":1,"tools":{},` + msgs + `}`, "tools", "tools: expected an array"},
		{"tool without schema", `{"model":"m","max_tokens":1,"tools":[{"name":"f"}],` + msgs + `}`, "tools[0].input_schema", "field required"},
		{"tool schema an array", `{"model":"m","max_tokens":1,"tools":[{"name":"f","input_schema":[]}],` + msgs + `}`, "tools[0].input_schema", "expected a JSON schema object"},
		{"tool name bad", `{"model":"m","max_tokens":1,"tools":[{"name":"a b","input_schema":{}}],` + msgs + `}`, "tools[0].name", "invalid character"},
		{"tool name duplicate", `{"model":"m","max_tokens":1,"tools":[{"name":"a","input_schema":{}},{"name":"a","input_schema":{}}],` + msgs + `}`, "tools[1].name", "duplicate"},
		{"server tool", `{"model":"m","max_tokens":1,"tools":[{"type":"code_execution_20250522","name":"code_execution"}],` + msgs + `}`, "tools[0].type", "server tool"},
		{"tool_choice a string", `{"model":"m","max_tokens":1,"tool_choice":"auto",` + msgs + `}`, "tool_choice", "tool_choice: expected an object, got a string"},
		{"tool_choice unknown type", `{"model":"m","max_tokens":1,"tool_choice":{"type":"required"},` + msgs + `}`, "tool_choice.type", `got "required"`},
		{"tool_choice tool without name", `{"model":"m","max_tokens":1,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool"},` + msgs + `}`, "tool_choice.name", "field required"},
		{"tool_choice names an undeclared tool", `{"model":"m","max_tokens":1,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"g"},` + msgs + `}`, "tool_choice", `"g" is not among the declared tools`},
		{"tool_choice any without tools", `{"model":"m","max_tokens":1,"tool_choice":{"type":"any"},` + msgs + `}`, "tool_choice", "no tools were declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().Decode(context.Background(), []byte(tt.body), nil)
			var p *api.Problem
			if !errors.As(err, &p) {
				t.Fatalf("Decode error = %v, want a *api.Problem", err)
			}
			status, _ := New().Error(p)
			if p.Status != 400 || status != 400 || p.Class != api.ClassInvalidRequest {
				t.Errorf("status %d (rendered %d), class %s; want 400 invalid_request_error", p.Status, status, p.Class)
			}
			if p.Param != tt.param {
				t.Errorf("param = %q, want %q", p.Param, tt.param)
			}
			if !strings.Contains(p.Message, tt.inMessage) {
				t.Errorf("message = %q, want it to contain %q", p.Message, tt.inMessage)
			}
			for _, goName := range []string{" int", "int64", "float64", "json.", "api.", "map[", "struct {", "[]"} {
				if strings.Contains(p.Message, goName) && !strings.Contains(tt.inMessage, goName) {
					t.Errorf("message %q names a Go type (%q)", p.Message, goName)
				}
			}
		})
	}
}

// TestDecodeClaudeCode replays the shape of a real Claude Code request:
// billing header and cache_control in system, metadata.user_id, many tools
// with large schemas ($schema, additionalProperties, nested arrays, anyOf),
// thinking with a budget, replayed thinking and redacted_thinking blocks,
// parallel calls with one failed result, and a trailing system-reminder.
func TestDecodeClaudeCode(t *testing.T) {
	body, err := os.ReadFile("testdata/claude_code_request.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := New().Decode(context.Background(), body, nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if req.Model != "claude-sonnet-4-5-20250929" || req.MaxTokens != 32000 || !req.Stream || !req.Parallel {
		t.Errorf("scalars: model %q max_tokens %d stream %v parallel %v", req.Model, req.MaxTokens, req.Stream, req.Parallel)
	}
	if req.Thinking == nil || !*req.Thinking || req.ThinkingBudget != 31999 {
		t.Errorf("thinking = %v budget %d, want on with 31999", req.Thinking, req.ThinkingBudget)
	}
	if len(req.Tools) != 10 || req.Tools[7].Name != "TodoWrite" || req.ToolChoice.Mode != toolcall.Auto {
		t.Errorf("tools: %d, choice %+v", len(req.Tools), req.ToolChoice)
	}
	var roles []string
	for _, m := range req.Messages {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "system,user,assistant,tool,assistant,tool,tool,user" {
		t.Fatalf("roles = %s", got)
	}
	m := req.Messages
	if strings.Contains(m[0].Text, "billing-header") || !strings.HasPrefix(m[0].Text, "You are Claude Code") {
		t.Errorf("system = %q", m[0].Text)
	}
	if m[4].Reasoning != "Run the tests and search for Split." || len(m[4].ToolCalls) != 2 || m[4].ToolCalls[1].Arguments != `{"pattern":"func Split","output_mode":"content","-n":true}` {
		t.Errorf("assistant turn = %+v", m[4])
	}
	if m[5].ToolName != "Bash" || !strings.HasPrefix(m[5].Text, toolError) || m[6].ToolCallID != "toolu_01Cde" {
		t.Errorf("results = %+v / %+v", m[5], m[6])
	}
	if n, err := CountTokens(body); err != nil || n < 3000 {
		t.Errorf("CountTokens = %d, %v; want a few thousand", n, err)
	}
}

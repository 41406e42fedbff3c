package anthropic

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

func TestDecodeWebSearchTool(t *testing.T) {
	fn := `{"name":"f","input_schema":{"type":"object"}}`
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, tools string
		search      bool
		nTools      int
	}{
		{"none", `[` + fn + `]`, false, 1},
		{"web_search", `[{"type":"web_search_20250305","name":"web_search","max_uses":5}]`, true, 0},
		{"newer web_search", `[{"type":"web_search_20260209","name":"web_search"},` + fn + `]`, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Codec{}.Decode(context.Background(), []byte(`{"model":"m","max_tokens":1,"tools":`+tc.tools+`,`+msgs+`}`), http.Header{})
			if err != nil {
				t.Fatal(err)
			}
			if req.Search != tc.search || len(req.Tools) != tc.nTools {
				t.Errorf("Search %v tools %d", req.Search, len(req.Tools))
			}
		})
	}
}

func TestStreamSearchBlocks(t *testing.T) {
	req := &api.Request{Messages: []api.Message{{Role: "user", Text: "first"}, {Role: "assistant", Text: "x"}, {Role: "user", Text: " latest news "}}}
	enc := Codec{}.NewStream(req, api.Meta{ID: "msg_1", Model: "m"})
	out := enc.Start(nil)
	for _, ev := range []api.Event{
		{Type: api.EventReasoning, Text: "think"},
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://a.example/1", Title: "A"}},
		{Type: api.EventCitation, Citation: &api.Citation{URL: "https://b.example/2"}},
		{Type: api.EventText, Text: "answer"},
	} {
		out = enc.Event(out, &ev)
	}
	out = enc.End(out, &api.End{FinishReason: api.FinishStop})
	var starts []map[string]any
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		name, data, _ := strings.Cut(strings.TrimPrefix(f, "event: "), "\ndata: ")
		if name != "content_block_start" {
			continue
		}
		var ev struct {
			Index        int            `json:"index"`
			ContentBlock map[string]any `json:"content_block"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Index != len(starts) {
			t.Fatalf("%s: %v (index %d)", data, err, ev.Index)
		}
		starts = append(starts, ev.ContentBlock)
	}
	if len(starts) != 4 || starts[0]["type"] != "thinking" || starts[1]["type"] != "server_tool_use" ||
		starts[2]["type"] != "web_search_tool_result" || starts[3]["type"] != "text" {
		t.Fatalf("blocks %v", starts)
	}
	use, res := starts[1], starts[2]
	if use["name"] != "web_search" || use["input"].(map[string]any)["query"] != "latest news" || res["tool_use_id"] != use["id"] {
		t.Errorf("server_tool_use %v, result %v", use, res)
	}
	items := res["content"].([]any)
	first := items[0].(map[string]any)
	if len(items) != 2 || first["type"] != "web_search_result" || first["url"] != "https://a.example/1" || first["title"] != "A" {
		t.Errorf("results %v", items)
	}
}

func TestAnswerSearchBlocks(t *testing.T) {
	_, body := Codec{}.Answer(&api.Request{}, api.Meta{ID: "msg_1"}, &api.Answer{Text: "t",
		Citations: []api.Citation{{URL: "https://a.example/1", Title: "A"}}})
	s := string(body)
	i, j, k := strings.Index(s, `"server_tool_use"`), strings.Index(s, `"web_search_tool_result"`), strings.Index(s, `"type":"text"`)
	if i < 0 || j < i || k < j {
		t.Errorf("blocks out of order: %s", s)
	}
	_, body = Codec{}.Answer(&api.Request{}, api.Meta{ID: "msg_1"}, &api.Answer{Text: "t"})
	if strings.Contains(string(body), "server_tool_use") {
		t.Errorf("search blocks without sources: %s", body)
	}
}

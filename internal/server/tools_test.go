package server

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

const weatherTools = `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`

// frames splits text into upstream content events of n bytes.
func frames(text string, n int) []upstream.Event {
	var out []upstream.Event
	for len(text) > 0 {
		k := min(n, len(text))
		out = append(out, upstream.Event{Type: upstream.EventContent, Text: text[:k]})
		text = text[k:]
	}
	return out
}

func TestToolCallNonStream(t *testing.T) {
	answerText := "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"</tool_call>\\\" 巴黎\"}}\n</tool_call>"
	ts := newTestServer(t, Options{}, &fakeProvider{open: answer(frames(answerText, 2)...)})
	resp := ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus",`+weatherTools+`,"messages":[
		{"role":"user","content":"weather?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"},
		{"role":"user","content":"and Paris?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var cc struct {
		Choices []struct {
			Message struct {
				Content   *string `json:"content"`
				ToolCalls []struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cc); err != nil {
		t.Fatal(err)
	}
	ch := cc.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content == nil || *ch.Message.Content != "Let me check." {
		t.Fatalf("answer %+v", ch)
	}
	tc := ch.Message.ToolCalls[0]
	var args map[string]string
	if tc.Type != "function" || tc.Function.Name != "get_weather" || !strings.HasPrefix(tc.ID, "call_") ||
		json.Unmarshal([]byte(tc.Function.Arguments), &args) != nil || args["city"] != `Paris "</tool_call>" 巴黎` {
		t.Fatalf("call %+v", tc)
	}
	// The tools, the earlier call and its result reached the upstream as text.
	req := ts.prov.lastReq.Load()
	var all strings.Builder
	for _, m := range req.Messages {
		all.WriteString(m.Role + ": " + m.Content + "\n")
	}
	for _, want := range []string{"<tools>", `"name":"get_weather"`, "<tool_call>", `"city":"Rome"`, "<tool_response>\nsunny\n</tool_response>"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("upstream prompt lacks %q:\n%s", want, all.String())
		}
	}
}

func TestToolCallStreamDeltas(t *testing.T) {
	text := "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"
	for _, parallel := range []bool{true, false} {
		ts := newTestServer(t, Options{}, &fakeProvider{open: answer(frames(text, 1)...)})
		body := `{"model":"qwen3.7-plus","stream":true,` + weatherTools + `,"messages":[{"role":"user","content":"w"}]}`
		if !parallel {
			body = strings.Replace(body, `"stream":true,`, `"stream":true,"parallel_tool_calls":false,`, 1)
		}
		resp := ts.post(t, "/v1/chat/completions", body)
		data, _ := sseData(t, resp.Body)
		var calls []string
		finish := ""
		for _, d := range data {
			if d == "[DONE]" {
				continue
			}
			var c struct {
				Choices []struct {
					Delta struct {
						Content   *string `json:"content"`
						ToolCalls []struct {
							Index    int    `json:"index"`
							ID       string `json:"id"`
							Function struct {
								Name      string `json:"name"`
								Arguments string `json:"arguments"`
							} `json:"function"`
						} `json:"tool_calls"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(d), &c); err != nil {
				t.Fatal(err)
			}
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil && *ch.Delta.Content != "" {
					t.Errorf("markup leaked as text: %q", *ch.Delta.Content)
				}
				for _, tc := range ch.Delta.ToolCalls {
					if tc.Index != len(calls) || tc.ID == "" {
						t.Errorf("call delta %+v", tc)
					}
					calls = append(calls, tc.Function.Name+tc.Function.Arguments)
				}
				if ch.FinishReason != nil {
					finish = *ch.FinishReason
				}
			}
		}
		want := []string{`get_weather{"city":"Oslo"}`, `get_weather{"city":"Rome"}`}
		if !parallel {
			want = want[:1]
		}
		if strings.Join(calls, "|") != strings.Join(want, "|") || finish != "tool_calls" {
			t.Errorf("parallel=%v: calls %q finish %q", parallel, calls, finish)
		}
	}
}

// A required call answered in prose is asked for once more; the second
// answer's call is returned, the prose is not.
func TestRequiredToolAskedAgain(t *testing.T) {
	var n atomic.Int64
	call := "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
	prov := &fakeProvider{open: func(ctx context.Context, cred upstream.Credential, req *upstream.ChatRequest) (upstream.Stream, error) {
		if n.Add(1) == 1 {
			return answer(frames("I think it is sunny.", 5)...)(ctx, cred, req)
		}
		last := req.Messages[len(req.Messages)-1]
		if last.Role != "user" || !strings.Contains(last.Content, "<tool_call>") || req.Messages[len(req.Messages)-2].Content != "I think it is sunny." {
			t.Errorf("reminder missing: %+v", last)
		}
		return answer(frames(call, 3)...)(ctx, cred, req)
	}}
	for _, stream := range []bool{false, true} {
		n.Store(0)
		ts := newTestServer(t, Options{ToolRetries: 1}, prov)
		body := `{"model":"qwen3.7-plus","tool_choice":"required",` + weatherTools + `,"messages":[{"role":"user","content":"w"}]}`
		if stream {
			body = strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)
		}
		resp := ts.post(t, "/v1/chat/completions", body)
		raw, _ := io.ReadAll(resp.Body)
		b := string(raw)
		if n.Load() != 2 || strings.Contains(b, "sunny") || !strings.Contains(b, `Oslo`) || !strings.Contains(b, "tool_calls") {
			t.Errorf("stream=%v: %d upstream calls, answer %s", stream, n.Load(), b)
		}
	}
}

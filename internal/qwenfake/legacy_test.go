package qwenfake

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func legacyBody(model, content string, thinking, incremental, stream bool) map[string]any {
	b := map[string]any{"model": model, "stream": stream, "chat_type": "t2t", "id": "x",
		"messages": []any{
			map[string]any{"role": "user", "content": "earlier"},
			map[string]any{"role": "assistant", "content": "reply"},
			map[string]any{"role": "user", "content": content, "chat_type": "t2t", "extra": map[string]any{},
				"feature_config": map[string]any{"thinking_enabled": thinking, "output_schema": "phase"}}}}
	if incremental {
		b["incremental_output"] = true
	}
	return b
}

func TestLegacy(t *testing.T) {
	const text = "[[qwenfake tokens=6 think=4 seed=l]]"
	tests := []struct {
		name                  string
		model                 string
		thinking, incremental bool
		wantCum, wantThink    string
		wantAnswer            string
	}{
		{"cumulative", "qwen3.7-plus", false, false, LegacyText("l", 0, 6), "", ""},
		{"cumulative thinking", "qwq-32b", true, false, LegacyText("l", 4, 6), "", ""},
		{"thinking unsupported", "qwen3-coder-plus", true, false, AnswerText("l", 6), "", ""},
		{"incremental", "qwen3.7-plus", false, true, "", "", AnswerText("l", 6)},
		{"incremental thinking", "qwen3.7-plus", true, true, "", ReasoningText("l", 4), AnswerText("l", 6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{})
			resp := e.do(context.Background(), "POST", "/api/chat/completions", legacyBody(tt.model, text, tt.thinking, tt.incremental, true))
			res := readStream(resp.Body)
			resp.Body.Close()
			if res.bad != 0 || res.done || res.frames[0].Created != nil {
				t.Fatalf("%q", res.raw)
			}
			if !tt.incremental {
				prev := ""
				for _, f := range res.frames {
					c := f.Choices[0].Delta.Content
					if !strings.HasPrefix(c, prev) || c == prev {
						t.Fatalf("not cumulative: %q after %q", c, prev)
					}
					prev = c
				}
				if prev != tt.wantCum {
					t.Fatalf("final %q, want %q", prev, tt.wantCum)
				}
				return
			}
			if res.think != tt.wantThink || res.answer != tt.wantAnswer {
				t.Fatalf("think %q answer %q", res.think, res.answer)
			}
		})
	}
}

func TestLegacyNonStreamAndErrors(t *testing.T) {
	e := start(t, Options{SendDone: true})
	v := e.jsonCall("POST", "/api/chat/completions", legacyBody("qwq-32b", "[[qwenfake tokens=3 think=2 seed=n]]", true, false, false), 200)
	msg := v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["content"] != LegacyText("n", 2, 3) {
		t.Fatalf("%v", v)
	}
	b := legacyBody("qwen3.7-plus", "draw", false, false, false)
	b["chat_type"] = "t2i"
	v = e.jsonCall("POST", "/api/chat/completions", b, 200)
	raw, _ := json.Marshal(v)
	if !strings.Contains(string(raw), `"task_id"`) {
		t.Fatalf("t2i: %s", raw)
	}
	e.jsonCall("POST", "/api/chat/completions", legacyBody("gpt-4", "x", false, false, true), 400)
	e.jsonCall("POST", "/api/chat/completions", `{"model":"qwq-32b","messages":[]}`, 400)
	resp := e.do(context.Background(), "POST", "/api/chat/completions", legacyBody("qwen3.7-plus", "[[qwenfake tokens=5 seed=n fail=error_frame after=2]]", false, false, true))
	res := readStream(resp.Body)
	resp.Body.Close()
	if res.errFrame == nil || res.done || len(res.frames) != 3 {
		t.Fatalf("%q", res.raw)
	}
	resp = e.do(context.Background(), "POST", "/api/chat/completions", legacyBody("qwen3.7-plus", "[[qwenfake tokens=2]]", false, false, true))
	res = readStream(resp.Body)
	resp.Body.Close()
	if !res.done {
		t.Fatalf("SendDone: %q", res.raw)
	}
	if st := e.fake.Stats(); st.Completions != 6 || st.Paths["/api/chat/completions"] != 6 {
		t.Fatalf("%+v", st)
	}
}

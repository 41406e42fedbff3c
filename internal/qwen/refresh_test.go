package qwen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Tests of the protocol refresh of docs/qwen-protocol.md §11.

// TestTokenTransportEmulator: the emulator accepts the token as a cookie,
// as a header or both, and every transport serves a whole chat.
func TestTokenTransportEmulator(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	for _, tr := range []string{TokenCookie, TokenHeader, TokenBoth} {
		t.Run(tr, func(t *testing.T) {
			c := client(func(o *Options) { o.TokenTransport = tr })
			if _, err := c.ListModels(context.Background(), cred); err != nil {
				t.Fatalf("models: %v", err)
			}
			o := runCred(t, c, cred, userReq("hi [[qwenfake tokens=3 seed=tt]]"))
			if o.err != nil || o.text(upstream.EventContent) != qwenfake.AnswerText("tt", 3) {
				t.Fatalf("chat: %v %q", o.err, o.text(upstream.EventContent))
			}
		})
	}
}

// dualSSE has two candidates; the second one (response id "r1") finishes
// first and carries a larger usage.
const dualSSE = `data: {"response.created":{"chat_id": "c", "parent_id": "p", "response_id":"r0", "response_index": "0"}}

data: {"response.created":{"chat_id": "c", "parent_id": "p", "response_id":"r1", "response_index": "1"}}

data: {"choices": [{"delta": {"role": "assistant", "content": "WRONG", "phase": "answer", "status": "typing"}}], "response_id": "r1", "usage": {"input_tokens": 9, "output_tokens": 99}}

data: {"choices": [{"delta": {"role": "assistant", "content": "Hel", "phase": "answer", "status": "typing"}}], "response_id": "r0", "usage": {"input_tokens": 5, "output_tokens": 1}}

data: {"choices": [{"delta": {"content": "", "role": "assistant", "status": "finished", "phase": "answer"}}], "response_id": "r1"}

data: {"choices": [{"delta": {"role": "assistant", "content": "lo", "phase": "answer", "status": "typing"}}], "response_id": "r0", "usage": {"input_tokens": 5, "output_tokens": 2}}

data: {"choices": [{"delta": {"content": "", "role": "assistant", "status": "finished", "phase": "answer"}}], "response_id": "r0"}

`

func TestDualCandidates(t *testing.T) {
	t.Run("hand-written", func(t *testing.T) {
		f := newFake(t, serveSSE(dualSSE))
		o, err := run(context.Background(), f.client(t, nil), userReq("x"))
		if err != nil || o.err != nil {
			t.Fatal(err, o.err)
		}
		if got := o.text(upstream.EventContent); got != "Hello" {
			t.Errorf("answer %q, want %q", got, "Hello")
		}
		if u := o.res.Usage; u.PromptTokens != 5 || u.CompletionTokens != 2 {
			t.Errorf("usage %+v, want the first candidate's", u)
		}
	})
	t.Run("single candidate is never filtered", func(t *testing.T) {
		// Frames whose id is spelled differently from response.created.
		sse := strings.ReplaceAll(readTestdata(t, "v2_fast_answer.sse"), `"response_id": "`, `"response_id": "x-`)
		f := newFake(t, serveSSE(sse))
		o, err := run(context.Background(), f.client(t, nil), userReq("x"))
		if err != nil || o.err != nil || o.text(upstream.EventContent) == "" {
			t.Fatalf("answer %q: %v %v", o.text(upstream.EventContent), err, o.err)
		}
	})
	_, client, cred := emulator(t, qwenfake.Options{})
	for _, thinking := range []bool{false, true} {
		name := map[bool]string{false: "emulator", true: "emulator thinking"}[thinking]
		t.Run(name, func(t *testing.T) {
			single := userReq("hi [[qwenfake tokens=6 think=4 seed=du]]")
			single.Thinking = &thinking
			dual := userReq("hi [[qwenfake tokens=6 think=4 seed=du dual=1]]")
			dual.Thinking = &thinking
			want := runCred(t, client(nil), cred, single)
			got := runCred(t, client(nil), cred, dual)
			if got.err != nil {
				t.Fatal(got.err)
			}
			answer := got.text(upstream.EventContent)
			if answer != qwenfake.AnswerText("du", 6) || strings.Contains(answer, qwenfake.DualSecondText("du", 6)) {
				t.Errorf("answer %q, want %q once", answer, qwenfake.AnswerText("du", 6))
			}
			if got.text(upstream.EventReasoning) != want.text(upstream.EventReasoning) {
				t.Errorf("reasoning %q, want %q", got.text(upstream.EventReasoning), want.text(upstream.EventReasoning))
			}
			if got.res.Usage.CompletionTokens != want.res.Usage.CompletionTokens {
				t.Errorf("usage %+v, want %+v", got.res.Usage, want.res.Usage)
			}
		})
	}
}

func TestThinkSkipRule(t *testing.T) {
	const model = "qwen3.8-max-preview"
	off, on := false, true
	req := func(thinking *bool) *upstream.ChatRequest {
		r := userReq("hi [[qwenfake tokens=3 think=2 seed=ts]]")
		r.Model, r.Thinking = model, thinking
		return r
	}
	_, client, cred := emulator(t, qwenfake.Options{})

	t.Run("unknown rule: invalid_input, explained, not retryable", func(t *testing.T) {
		o := runCred(t, client(nil), cred, req(&off))
		ue, ok := upstream.AsError(o.err)
		if !ok || ue.Kind != upstream.KindBadRequest || ue.Kind.Retryable() || ue.Code != "invalid_input" {
			t.Fatalf("err = %#v", o.err)
		}
		if !strings.Contains(ue.Message, "invalid input") || !strings.Contains(ue.Message, "thinking on") {
			t.Errorf("message %q does not say what happened", ue.Message)
		}
	})

	c := client(nil)
	models, err := c.ListModels(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		if m.ThinkingRequired != (m.ID == model) {
			t.Errorf("%s: ThinkingRequired %v", m.ID, m.ThinkingRequired)
		}
	}
	cases := []struct {
		name          string
		thinking      *bool
		wantReasoning bool
	}{
		{"asked off: forced on, reasoning hidden", &off, false},
		{"default: forced on, reasoning shown", nil, true},
		{"asked on", &on, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := runCred(t, c, cred, req(tc.thinking))
			if o.err != nil {
				t.Fatal(o.err)
			}
			if o.text(upstream.EventContent) != qwenfake.AnswerText("ts", 3) {
				t.Errorf("answer %q", o.text(upstream.EventContent))
			}
			if got := o.text(upstream.EventReasoning) != ""; got != tc.wantReasoning {
				t.Errorf("reasoning shown = %v, want %v", got, tc.wantReasoning)
			}
		})
	}
	t.Run("other models keep thinking off", func(t *testing.T) {
		f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
		fc := f.client(t, nil)
		fc.learnModels(models)
		if _, err := run(context.Background(), fc, userReq("x")); err != nil {
			t.Fatal(err)
		}
		r, _ := f.last("/api/v2/chat/completions")
		if !strings.Contains(string(r.Body), `"thinking_enabled":false`) {
			t.Errorf("body %s", r.Body)
		}
	})
}

// TestEmulatorRejectsNoToken: neither header nor cookie is a 401.
func TestEmulatorRejectsNoToken(t *testing.T) {
	fake := qwenfake.New(qwenfake.Options{})
	defer fake.Close()
	tok := fake.MintToken("u1", time.Hour)
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"neither", func(*http.Request) {}, http.StatusUnauthorized},
		{"cookie", func(r *http.Request) { r.Header.Set("Cookie", "a=b; token="+tok) }, http.StatusOK},
		{"header", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, http.StatusOK},
		{"bad cookie", func(r *http.Request) { r.Header.Set("Cookie", "token=x.y.z") }, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/api/models", nil)
			tc.set(r)
			w := httptest.NewRecorder()
			fake.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}

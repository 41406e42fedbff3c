package qwen

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func ptr[T any](v T) *T { return &v }

func fc(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	msgs := body["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("want exactly one message, got %d", len(msgs))
	}
	return msgs[0].(map[string]any)["feature_config"].(map[string]any)
}

func TestBodyStyles(t *testing.T) {
	for _, style := range []string{BodyBrowser, BodySimple} {
		t.Run(style, func(t *testing.T) {
			f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
			c := f.client(t, func(o *Options) { o.BodyStyle = style })
			if _, err := run(context.Background(), c, userReq("hello <b>&</b>")); err != nil {
				t.Fatal(err)
			}
			newChat, _ := f.last("/api/v2/chats/new")
			nc := mustJSON(t, newChat.Body)
			if nc["title"] != "New Chat" || nc["chat_type"] != "t2t" || nc["chat_mode"] != "normal" ||
				nc["project_id"] != "" || nc["timestamp"].(float64) != 1780488000000 {
				t.Errorf("chats/new body: %v", nc)
			}
			comp, _ := f.last("/api/v2/chat/completions")
			if comp.Query != "chat_id="+testChatID {
				t.Errorf("query %q", comp.Query)
			}
			if !strings.Contains(string(comp.Body), "hello <b>&</b>") {
				t.Errorf("content HTML-escaped or missing: %s", comp.Body)
			}
			b := mustJSON(t, comp.Body)
			for k, want := range map[string]any{
				"stream": true, "incremental_output": true, "chat_id": testChatID, "model": "qwen3.7-plus",
				"chat_mode": "normal", "function_calling": false, "enable_tools": false,
				"enable_function_call": false, "tool_choice": "none",
			} {
				if b[k] != want {
					t.Errorf("%s = %v, want %v", k, b[k], want)
				}
			}
			m := b["messages"].([]any)[0].(map[string]any)
			if m["role"] != "user" || m["content"] != "hello <b>&</b>" || m["chat_type"] != "t2t" {
				t.Errorf("message %v", m)
			}
			if f := fc(t, b); f["output_schema"] != "phase" || f["thinking_enabled"] != false {
				t.Errorf("feature_config %v", f)
			}
			if style == BodyBrowser {
				if b["version"] != "2.1" || b["parent_id"] != nil || b["timestamp"].(float64) != 1780488000 {
					t.Errorf("browser top level: %v", b)
				}
				if !uuidRE.MatchString(m["fid"].(string)) || m["user_action"] != "chat" ||
					m["sub_chat_type"] != "t2t" || len(m["childrenIds"].([]any)) != 1 {
					t.Errorf("browser message: %v", m)
				}
				if m["extra"].(map[string]any)["meta"].(map[string]any)["subChatType"] != "t2t" {
					t.Errorf("extra.meta: %v", m["extra"])
				}
			} else {
				if b["chat_type"] != "t2t" || b["sub_chat_type"] != "t2t" || !uuidRE.MatchString(b["session_id"].(string)) ||
					!uuidRE.MatchString(b["id"].(string)) {
					t.Errorf("simple top level: %v", b)
				}
			}
		})
	}
}

func TestThinkingConfig(t *testing.T) {
	cases := []struct {
		name     string
		thinking *bool
		format   string
		budget   int // request
		defBudg  int // option
		want     map[string]any
	}{
		{"nil means off", nil, "", 0, 0, map[string]any{"thinking_enabled": false, "thinking_mode": "Fast", "auto_thinking": false, "thinking_budget": nil, "thinking_format": nil}},
		{"off", ptr(false), "", 0, 81920, map[string]any{"thinking_enabled": false, "thinking_mode": "Fast", "thinking_budget": 81920.0}},
		{"on summary", ptr(true), "", 0, 0, map[string]any{"thinking_enabled": true, "thinking_mode": "Thinking", "auto_thinking": false, "thinking_format": "summary"}},
		{"on detail with budget", ptr(true), ThinkingDetail, 1024, 81920, map[string]any{"thinking_enabled": true, "thinking_format": "detail", "thinking_budget": 1024.0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
			c := f.client(t, func(o *Options) { o.ThinkingFormat = tc.format; o.DefaultThinkingBudget = tc.defBudg })
			req := userReq("x")
			req.Thinking, req.ThinkingBudget = tc.thinking, tc.budget
			if _, err := run(context.Background(), c, req); err != nil {
				t.Fatal(err)
			}
			comp, _ := f.last("/api/v2/chat/completions")
			got := fc(t, mustJSON(t, comp.Body))
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
				}
			}
		})
	}
}

func TestFlatten(t *testing.T) {
	cases := []struct {
		in   []upstream.Message
		want string
	}{
		{[]upstream.Message{{Role: "user", Content: "only"}}, "only"},
		{[]upstream.Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "system", Content: "be nice"}, {Role: "user", Content: "c"}},
			"system: be nice\n\nuser: a\n\nassistant: b\n\nuser: c"},
		{[]upstream.Message{{Role: "developer", Content: "d"}, {Role: "user", Content: "q"}}, "system: d\n\nuser: q"},
	}
	for _, tc := range cases {
		if got := flatten(tc.in); got != tc.want {
			t.Errorf("flatten = %q, want %q", got, tc.want)
		}
	}
}

func TestLegacyBody(t *testing.T) {
	f := newFake(t, serveSSE(readTestdata(t, "legacy_cumulative.sse")))
	c := f.client(t, func(o *Options) { o.Protocol = ProtocolLegacy })
	req := &upstream.ChatRequest{Model: "qwen-max-latest", Thinking: ptr(true), MaxTokens: 50, Messages: []upstream.Message{
		{Role: "developer", Content: "sys"}, {Role: "user", Content: "hi"}}}
	o, err := run(context.Background(), c, req)
	if err != nil || o.err != nil {
		t.Fatal(err, o.err)
	}
	if _, ok := f.last("/api/v2/chats/new"); ok {
		t.Error("legacy must not create a chat")
	}
	r, _ := f.last("/api/chat/completions")
	b := mustJSON(t, r.Body)
	msgs := b["messages"].([]any)
	if b["stream"] != true || b["chat_type"] != "t2t" || b["max_tokens"] != 50.0 || len(msgs) != 2 ||
		msgs[0].(map[string]any)["role"] != "system" || !uuidRE.MatchString(b["id"].(string)) {
		t.Errorf("legacy body: %s", r.Body)
	}
	if fc := msgs[1].(map[string]any)["feature_config"].(map[string]any); fc["thinking_enabled"] != true {
		t.Errorf("thinking flag: %v", fc)
	}
}

func TestTooLargeBeforeAnyCall(t *testing.T) {
	for _, proto := range []string{ProtocolV2, ProtocolLegacy} {
		f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
		c := f.client(t, func(o *Options) { o.Protocol = proto })
		_, err := c.OpenChat(context.Background(), testCred, userReq(strings.Repeat("x", 129000)))
		ue, ok := upstream.AsError(err)
		if !ok || ue.Kind != upstream.KindTooLarge || !strings.Contains(ue.Message, "128000") ||
			!strings.Contains(ue.Message, "shortened") {
			t.Fatalf("%s: err = %v", proto, err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%s: %d upstream calls before refusing", proto, n)
		}
	}
	// 117 KB passes (docs/qwen-protocol.md §7).
	f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
	if _, err := run(context.Background(), f.client(t, nil), userReq(strings.Repeat("y", 117000))); err != nil {
		t.Fatal(err)
	}
}

func TestHeaders(t *testing.T) {
	bearer, cookie := "Bearer "+testToken, "token="+testToken+"; ssxmod_itna=abc"
	cases := []struct {
		name, transport, bxv string
		auth, cookie, bx     string // wanted values; "" = absent
	}{
		{"default is the cookie", "", "", "", cookie, ""},
		{"cookie", TokenCookie, "", "", cookie, ""},
		{"header", TokenHeader, "", bearer, "ssxmod_itna=abc", ""},
		{"both", TokenBoth, "", bearer, cookie, ""},
		{"bx-v configured", "", "2.5.36", "", cookie, "2.5.36"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
			c := f.client(t, func(o *Options) {
				o.TokenTransport = tc.transport
				o.Headers = DefaultHeaders()
				o.Headers.BXV = tc.bxv
				o.Headers.Extra = map[string]string{"Cookie": "ssxmod_itna=abc", "X-Custom": "1"}
			})
			if _, err := run(context.Background(), c, userReq("x")); err != nil {
				t.Fatal(err)
			}
			rs := f.requests()
			if len(rs) != 2 {
				t.Fatalf("%d requests", len(rs))
			}
			ids := map[string]bool{}
			for _, r := range rs {
				checkHeaders(t, r, map[string]string{
					"Authorization": tc.auth, "Cookie": tc.cookie, "Bx-V": tc.bx,
					"Source": "web", "Version": "0.2.81", "X-Accel-Buffering": "no", "Origin": f.srv.URL,
					"Timezone": "Wed Jun 03 2026 20:00:00 GMT+0800", "X-Custom": "1", "Content-Type": "application/json",
				})
				id := r.Header.Get("X-Request-Id")
				if !uuidRE.MatchString(id) || ids[id] {
					t.Errorf("x-request-id %q not a fresh UUID v4", id)
				}
				ids[id] = true
			}
			if ref := rs[0].Header.Get("Referer"); ref != f.srv.URL+"/c/new-chat" {
				t.Errorf("chats/new Referer %q", ref)
			}
			if ref := rs[1].Header.Get("Referer"); ref != f.srv.URL+"/c/"+testChatID {
				t.Errorf("completion Referer %q", ref)
			}
			if acc := rs[1].Header.Get("Accept"); acc != "text/event-stream" {
				t.Errorf("completion Accept %q", acc)
			}
		})
	}
}

func checkHeaders(t *testing.T, r recorded, want map[string]string) {
	t.Helper()
	h := r.Header
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, k, got, v)
		}
		if _, present := h[http.CanonicalHeaderKey(k)]; v == "" && present {
			t.Errorf("%s %s: %s sent although it should be omitted", r.Method, r.Path, k)
		}
	}
	if !strings.Contains(h.Get("User-Agent"), "Chrome/") || h.Get("Accept-Language") == "" {
		t.Errorf("browser headers missing: %v", h)
	}
}

func TestNewValidation(t *testing.T) {
	hc := &http.Client{}
	bad := []Options{
		{BaseURL: "", HTTPClient: hc},
		{BaseURL: "ftp://x", HTTPClient: hc},
		{BaseURL: "https://chat.qwen.ai"},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: &http.Client{Timeout: 1}},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, Protocol: "v3"},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, BodyStyle: "fancy"},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, ThinkingFormat: "full"},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, TokenTransport: "url"},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, IdleTimeout: -1},
		{BaseURL: "https://chat.qwen.ai", HTTPClient: hc, MaxBodyBytes: -1},
	}
	for i, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("case %d: New accepted %+v", i, o)
		}
	}
	c, err := New(Options{BaseURL: "https://chat.qwen.ai/", HTTPClient: hc, Protocol: "V2"})
	if err != nil || c.opts.MaxBodyBytes != DefaultMaxBodyBytes || c.base != "https://chat.qwen.ai" ||
		c.opts.BodyStyle != BodyBrowser || c.opts.ThinkingFormat != ThinkingSummary || c.opts.TokenTransport != TokenCookie {
		t.Fatalf("defaults: %v %+v", err, c)
	}
}

func TestRequestValidation(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", nil)
	for _, tc := range []struct {
		cred upstream.Credential
		req  *upstream.ChatRequest
		kind upstream.Kind
	}{
		{testCred, &upstream.ChatRequest{Model: "m"}, upstream.KindBadRequest},
		{testCred, &upstream.ChatRequest{Messages: []upstream.Message{{Content: "x"}}}, upstream.KindBadRequest},
		{upstream.Credential{ID: "a"}, userReq("x"), upstream.KindUnauthorized},
	} {
		if _, err := c.OpenChat(context.Background(), tc.cred, tc.req); kindOf(err) != tc.kind {
			t.Errorf("err = %v, want %s", err, tc.kind)
		}
	}
}

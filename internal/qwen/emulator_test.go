package qwen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// emulator starts qwenfake and returns a client factory and a credential.
func emulator(t *testing.T, fo qwenfake.Options) (*qwenfake.Server, func(func(*Options)) *Client, upstream.Credential) {
	t.Helper()
	fake := qwenfake.New(fo)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	cred := upstream.Credential{ID: "u1", Token: fake.MintToken("u1", time.Hour)}
	return fake, func(m func(*Options)) *Client { return newTestClient(t, srv.URL, m) }, cred
}

func runCred(t testing.TB, c *Client, cred upstream.Credential, req *upstream.ChatRequest) outcome {
	s, err := c.OpenChat(context.Background(), cred, req)
	if err != nil {
		return outcome{err: err}
	}
	defer s.Close()
	var o outcome
	for {
		ev, err := s.Next()
		if err != nil {
			if err.Error() != "EOF" {
				o.err = err
			}
			o.res = s.Result()
			return o
		}
		o.events = append(o.events, ev)
	}
}

func TestEmulatorStreams(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	cases := []struct {
		name     string
		opts     func(*Options)
		thinking *bool
		text     string
		reason   string
		answer   string
	}{
		{"browser", nil, nil, "hi [[qwenfake tokens=7 seed=a]]", "", qwenfake.AnswerText("a", 7)},
		{"simple", func(o *Options) { o.BodyStyle = BodySimple }, ptr(false), "hi [[qwenfake tokens=5 seed=b]]", "", qwenfake.AnswerText("b", 5)},
		{"summary", nil, ptr(true), "hi [[qwenfake tokens=4 think=9 seed=c]]", qwenfake.SummaryText("c", 9), qwenfake.AnswerText("c", 4)},
		{"detail", func(o *Options) { o.ThinkingFormat = ThinkingDetail }, ptr(true), "hi [[qwenfake tokens=4 think=6 seed=d]]", qwenfake.ReasoningText("d", 6), qwenfake.AnswerText("d", 4)},
		{"split writes", nil, nil, "hi [[qwenfake tokens=20 split=3 seed=é]]", "", qwenfake.AnswerText("é", 20)},
		{"legacy", func(o *Options) { o.Protocol = ProtocolLegacy }, nil, "hi [[qwenfake tokens=6 seed=e]]", "", qwenfake.AnswerText("e", 6)},
		{"legacy thinking", func(o *Options) { o.Protocol = ProtocolLegacy }, ptr(true), "hi [[qwenfake tokens=6 think=5 seed=f]]",
			strings.TrimSpace(qwenfake.ReasoningText("f", 5)), qwenfake.AnswerText("f", 6)},
		{"legacy split", func(o *Options) { o.Protocol = ProtocolLegacy }, ptr(true), "hi [[qwenfake tokens=6 think=5 split=2 seed=h]]",
			strings.TrimSpace(qwenfake.ReasoningText("h", 5)), qwenfake.AnswerText("h", 6)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := userReq(tc.text)
			req.Thinking = tc.thinking
			o := runCred(t, client(tc.opts), cred, req)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if got := o.text(upstream.EventContent); got != tc.answer {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
			got := o.text(upstream.EventReasoning)
			if tc.opts != nil && strings.HasPrefix(tc.name, "legacy") {
				got = strings.TrimSpace(got) // the <think> block's line breaks
			}
			if got != tc.reason {
				t.Errorf("reasoning %q, want %q", got, tc.reason)
			}
			if o.res.FinishReason != "stop" || (!strings.HasPrefix(tc.name, "legacy") && o.res.Usage.CompletionTokens == 0) {
				t.Errorf("result %+v", o.res)
			}
		})
	}
}

func TestEmulatorFailureModes(t *testing.T) {
	_, client, cred := emulator(t, qwenfake.Options{})
	want := map[string]upstream.Kind{
		qwenfake.ModeCaptcha: upstream.KindCaptcha, qwenfake.ModeWAF: upstream.KindWAF,
		qwenfake.ModeQuota: upstream.KindQuota, qwenfake.ModeQuotaFrame: upstream.KindQuota,
		qwenfake.ModeHTTP429: upstream.KindRateLimited, qwenfake.ModeHTTP401: upstream.KindUnauthorized,
		qwenfake.ModeHTTP403: upstream.KindUnauthorized, qwenfake.ModeHTTP500: upstream.KindTransient,
		qwenfake.ModeHTTP502: upstream.KindTransient, qwenfake.ModeBadRequest: upstream.KindTransient,
		qwenfake.ModeContentFilter: upstream.KindContentFilter, qwenfake.ModeContentFilterMid: upstream.KindContentFilter,
		qwenfake.ModeErrorFrame: upstream.KindTransient, qwenfake.ModeStall: upstream.KindTimeout,
		qwenfake.ModeStallMid: upstream.KindTimeout, qwenfake.ModeCut: upstream.KindNetwork,
		qwenfake.ModeMalformed: upstream.KindBadResponse, qwenfake.ModeEmpty: upstream.KindEmpty,
		qwenfake.ModeThinkOnly: upstream.KindEmpty, qwenfake.ModeInvalidInput: upstream.KindBadRequest,
	}
	for _, mode := range qwenfake.Modes() {
		for _, proto := range []string{ProtocolV2, ProtocolLegacy} {
			t.Run(proto+"/"+mode, func(t *testing.T) {
				k, ok := want[mode]
				if !ok {
					t.Fatalf("no expectation for mode %q", mode)
				}
				c := client(func(o *Options) {
					o.Protocol = proto
					o.FirstByteTimeout, o.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
				})
				req := userReq(fmt.Sprintf("hi [[qwenfake fail=%s after=2 tokens=5 think=3]]", mode))
				req.Thinking = ptr(true)
				o := runCred(t, c, cred, req)
				ue, isUp := upstream.AsError(o.err)
				if !isUp || ue.Kind != k {
					t.Fatalf("err = %v, want kind %s", o.err, k)
				}
				if mode == qwenfake.ModeHTTP429 && ue.RetryAfter != 7*time.Second {
					t.Errorf("RetryAfter %v", ue.RetryAfter)
				}
				if mode == qwenfake.ModeQuota && ue.RetryAfter != 4*time.Hour {
					t.Errorf("RetryAfter %v", ue.RetryAfter)
				}
				if mode == qwenfake.ModeCaptcha && !strings.Contains(ue.URL, "punish") {
					t.Errorf("captcha URL %q", ue.URL)
				}
				if strings.Contains(o.err.Error(), cred.Token) {
					t.Errorf("token leaked: %v", o.err)
				}
			})
		}
	}
}

func TestEmulatorAuthModelsAndGzip(t *testing.T) {
	fake, client, cred := emulator(t, qwenfake.Options{Gzip: true, RequireHeaders: []string{"x-request-id", "version", "source", "timezone"}})
	fake.AddUser("a@b.c", "pw")
	c := client(func(o *Options) { o.Headers.Extra = map[string]string{"Accept-Encoding": "gzip"} })
	tok, err := c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if exp, ok := TokenExpiry(tok); !ok || exp.Before(time.Now()) {
		t.Errorf("TokenExpiry %v %v", exp, ok)
	}
	if _, err := c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "nope"); kindOf(err) != upstream.KindUnauthorized {
		t.Errorf("wrong password: %v", err)
	}
	models, err := c.ListModels(context.Background(), cred)
	if err != nil || len(models) == 0 {
		t.Fatalf("models %v %v", models, err)
	}
	o := runCred(t, c, upstream.Credential{ID: "x", Token: tok}, userReq("hi [[qwenfake tokens=3 seed=g]]"))
	if o.err != nil || o.text(upstream.EventContent) != qwenfake.AnswerText("g", 3) {
		t.Fatalf("gzip stream: %v %q", o.err, o.text(upstream.EventContent))
	}
	expired := upstream.Credential{ID: "old", Token: fake.MintToken("u1", -time.Hour)}
	if _, err := c.ListModels(context.Background(), expired); kindOf(err) != upstream.KindUnauthorized {
		t.Errorf("expired token: %v", err)
	}
	if o := runCred(t, c, expired, userReq("hi")); kindOf(o.err) != upstream.KindUnauthorized {
		t.Errorf("expired token chat: %v", o.err)
	}
}

// BenchmarkEmulator compares a raw HTTP client reading the emulator's
// streams (chats/new + completion, bodies discarded) with this package's
// client parsing them: the ratio is the protocol layer's overhead.
func BenchmarkEmulator(b *testing.B) {
	fake := qwenfake.New(qwenfake.Options{DefaultTokens: 64})
	srv := httptest.NewServer(fake)
	defer func() { fake.Close(); srv.Close() }()
	tok := fake.MintToken("u1", time.Hour)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	c, err := New(Options{BaseURL: srv.URL, HTTPClient: hc})
	if err != nil {
		b.Fatal(err)
	}
	req := userReq("hello there")
	body, _ := c.v2Body(req, "hello there", placeholderChatID)
	b.Run("direct", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ans, err := c.jsonCall(context.Background(), upstream.Credential{Token: tok}, http.MethodPost, "/api/v2/chats/new", "/", []byte(`{"title":"New Chat","models":["qwen3.7-plus"],"chat_mode":"normal","chat_type":"t2t","timestamp":1,"project_id":""}`))
				if err != nil {
					b.Error(err)
					return
				}
				id := gjsonGet(ans, "data.id")
				resp, err := c.do(context.Background(), upstream.Credential{Token: tok}, http.MethodPost, "/api/v2/chat/completions?chat_id="+id, "/", "text/event-stream",
					bytes.Replace(body, []byte(placeholderChatID), []byte(id), 1))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("client", func(b *testing.B) {
		cred := upstream.Credential{ID: "u1", Token: tok}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if o := runCred(nil, c, cred, req); o.err != nil || len(o.events) == 0 {
					b.Error(o.err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

func gjsonGet(b []byte, path string) string { return gjson.GetBytes(b, path).String() }

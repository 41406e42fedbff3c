// Package e2e runs the official OpenAI Go SDK against a running relay in
// front of the upstream emulator, over loopback.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const apiKey = "sk-e2e-test"

type env struct {
	t        testing.TB
	emu      *qwenfake.Server
	emuURL   string
	relay    *httptest.Server
	client   openai.Client
	httpc    *http.Client
	tokens   []string
	logs     *lockedWriter
	relayApp *app.App
	admin    *httptest.Server
	now      *clock
	cfg      config.Config
	closeApp func() error // stops background work and closes the store; idempotent
}

// clock is the emulator's adjustable clock (token expiry).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type setup struct {
	emu     qwenfake.Options
	users   []string // one token minted per user
	tokenTT time.Duration
	cfg     func(*config.Config)
	noEnv   bool // add no account from QWENRELAY_QWEN_TOKENS
}

const adminKey = "admin-e2e-key"

func start(t testing.TB, s setup) *env {
	t.Helper()
	clk := &clock{}
	if s.emu.Now == nil {
		s.emu.Now = clk.Now
	}
	emu := qwenfake.New(s.emu)
	emuSrv := httptest.NewServer(emu)
	if len(s.users) == 0 {
		s.users = []string{"alice"}
	}
	if s.tokenTT == 0 {
		s.tokenTT = time.Hour
	}
	var tokens []string
	for _, u := range s.users {
		tokens = append(tokens, emu.MintToken(u, s.tokenTT))
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.AccountMinInterval = time.Millisecond
	cfg.AccountMaxConcurrent = 64
	cfg.UpstreamURL = emuSrv.URL
	if !s.noEnv {
		cfg.QwenTokens = tokens
	}
	cfg.APIKey = apiKey
	cfg.AdminKey = adminKey
	cfg.RetryBackoff = 5 * time.Millisecond
	cfg.RetryBudget = 3 * time.Second
	cfg.FirstByteTimeout = 2 * time.Second
	cfg.IdleTimeout = 2 * time.Second
	cfg.HeartbeatInterval = time.Second
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	lw := &lockedWriter{w: logs}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	bg, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		a.Run(bg)
	}()
	closeApp := sync.OnceValue(func() error {
		stopBG()
		<-bgDone
		return a.Close(context.Background())
	})
	relaySrv := httptest.NewServer(a.Handler)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	httpc := &http.Client{Transport: tr}
	e := &env{t: t, emu: emu, emuURL: emuSrv.URL, relay: relaySrv, httpc: httpc, tokens: tokens, logs: lw, relayApp: a, now: clk,
		cfg: cfg, closeApp: closeApp}
	if a.AdminHandler != nil {
		e.admin = httptest.NewServer(a.AdminHandler)
	}
	e.client = openai.NewClient(option.WithBaseURL(relaySrv.URL+"/v1"), option.WithAPIKey(apiKey),
		option.WithMaxRetries(0), option.WithHTTPClient(httpc))
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		relaySrv.CloseClientConnections()
		relaySrv.Close()
		if e.admin != nil {
			e.admin.CloseClientConnections()
			e.admin.Close()
		}
		if err := closeApp(); err != nil {
			t.Errorf("closing the relay: %v", err)
		}
		emuSrv.CloseClientConnections()
		emuSrv.Close()
		for _, tok := range tokens {
			if strings.Contains(lw.String(), tok) {
				t.Errorf("a Qwen token appears in the relay's logs")
			}
		}
	})
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func params(model, content string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(content)},
	}
}

// streamResult is what a client saw of one streamed answer.
type streamResult struct {
	content, reasoning string
	roles              int
	finish             string
	usage              *openai.CompletionUsage
	ids                map[string]bool
	err                error
}

func (e *env) stream(ctx context.Context, p openai.ChatCompletionNewParams) streamResult {
	st := e.client.Chat.Completions.NewStreaming(ctx, p)
	defer st.Close()
	r := streamResult{ids: map[string]bool{}}
	var content, reasoning strings.Builder
	for st.Next() {
		c := st.Current()
		r.ids[c.ID] = true
		if c.Usage.TotalTokens > 0 {
			u := c.Usage
			r.usage = &u
		}
		for _, ch := range c.Choices {
			if ch.Delta.Role != "" {
				r.roles++
			}
			content.WriteString(ch.Delta.Content)
			if f, ok := ch.Delta.JSON.ExtraFields["reasoning_content"]; ok {
				reasoning.WriteString(unquote(f.Raw()))
			}
			if ch.FinishReason != "" {
				r.finish = ch.FinishReason
			}
		}
	}
	r.content, r.reasoning, r.err = content.String(), reasoning.String(), st.Err()
	return r
}

func unquote(raw string) string {
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return ""
	}
	return s
}

// apiErr extracts the SDK's API error.
func apiErr(t *testing.T, err error) *openai.Error {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *openai.Error, got %T %v", err, err)
	}
	return ae
}

func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.relay.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := e.httpc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// openaiClient is an SDK client sending token as its Bearer key.
func openaiClient(e *env, token string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.relay.URL+"/v1"), option.WithAPIKey(token),
		option.WithMaxRetries(0), option.WithHTTPClient(e.httpc))
}

// adminDo calls the admin API and decodes its JSON answer into out.
func (e *env) adminDo(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.admin.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.httpc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, tok := range e.tokens {
		if strings.Contains(string(b), tok) {
			e.t.Fatalf("admin %s %s leaked a Qwen token", method, path)
		}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("admin %s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// accountView is the admin API's account.
type accountView struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	State     string     `json:"state"`
	Reason    string     `json:"reason"`
	CoolUntil *time.Time `json:"cool_until"`
	PunishURL string     `json:"punish_url"`
}

func (e *env) accounts() map[string]accountView {
	e.t.Helper()
	var out struct {
		Data []accountView `json:"data"`
	}
	var raw json.RawMessage
	if code := e.adminDo(http.MethodGet, "/admin/accounts", nil, &raw); code != 200 {
		e.t.Fatalf("list accounts: %d", code)
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Data == nil {
		var list []accountView
		if err := json.Unmarshal(raw, &list); err != nil {
			e.t.Fatalf("accounts answer: %s", raw)
		}
		out.Data = list
	}
	m := map[string]accountView{}
	for _, a := range out.Data {
		m[a.Name] = a
	}
	return m
}

func errFmt(format string, args ...any) error { return fmt.Errorf(format, args...) }

func storeFilter(keyID int64) store.UsageFilter { return store.UsageFilter{KeyID: keyID} }

// rawChat posts a non-stream chat request with plain net/http (to read
// headers the SDK hides) and returns the closed response.
func (e *env) rawChat(content string) *http.Response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": content}}})
	req, _ := http.NewRequest(http.MethodPost, e.relay.URL+"/v1/chat/completions", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := e.httpc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Package e2e runs the official OpenAI Go SDK against a running relay in
// front of the upstream emulator, over loopback.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
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
}

type setup struct {
	emu     qwenfake.Options
	users   []string // one token minted per user
	tokenTT time.Duration
	cfg     func(*config.Config)
}

func start(t testing.TB, s setup) *env {
	t.Helper()
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
	cfg.QwenTokens = tokens
	cfg.APIKey = apiKey
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
	relaySrv := httptest.NewServer(a.Handler)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	httpc := &http.Client{Transport: tr}
	e := &env{t: t, emu: emu, emuURL: emuSrv.URL, relay: relaySrv, httpc: httpc, tokens: tokens, logs: lw, relayApp: a}
	e.client = openai.NewClient(option.WithBaseURL(relaySrv.URL+"/v1"), option.WithAPIKey(apiKey),
		option.WithMaxRetries(0), option.WithHTTPClient(httpc))
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		relaySrv.CloseClientConnections()
		relaySrv.Close()
		stopBG()
		<-bgDone
		if err := a.Close(context.Background()); err != nil {
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

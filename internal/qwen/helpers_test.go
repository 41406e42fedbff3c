package qwen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testToken  = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6InUxIiwiZXhwIjo0MTAyNDQ0ODAwfQ.SECRET-signature-zz"
	testChatID = "7c1d4e2f-0000-4a5b-9c8d-aabbccddeeff"
)

var testCred = upstream.Credential{ID: "acct-1", Token: testToken}

// recorded is one request the fake upstream received.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// fakeUp is a scriptable upstream: chats/new answers testChatID unless
// newChat is set; completions are answered by the completion handler.
type fakeUp struct {
	srv        *httptest.Server
	mu         sync.Mutex
	reqs       []recorded
	newChat    http.HandlerFunc
	completion http.HandlerFunc
	other      http.HandlerFunc
}

func newFake(t *testing.T, completion http.HandlerFunc) *fakeUp {
	t.Helper()
	f := &fakeUp{completion: completion}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUp) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	newChat, completion, other := f.newChat, f.completion, f.other // tests may swap them under mu
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/api/v2/chats/new" && newChat != nil:
		newChat(w, r)
	case r.URL.Path == "/api/v2/chats/new":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"success":true,"request_id":"r","data":{"id":%q}}`, testChatID)
	case strings.HasSuffix(r.URL.Path, "/chat/completions") && completion != nil:
		completion(w, r)
	case other != nil:
		other(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeUp) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeUp) last(path string) (recorded, bool) {
	rs := f.requests()
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Path == path {
			return rs[i], true
		}
	}
	return recorded{}, false
}

// client builds a Client for the fake with its own transport.
func (f *fakeUp) client(t *testing.T, mutate func(*Options)) *Client {
	t.Helper()
	return newTestClient(t, f.srv.URL, mutate)
}

func newTestClient(t *testing.T, base string, mutate func(*Options)) *Client {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	o := Options{
		BaseURL: base, HTTPClient: &http.Client{Transport: tr},
		Now: func() time.Time { return time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC) },
	}
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// sseWriter writes raw SSE bytes, flushing after every chunk.
func writeSSE(w http.ResponseWriter, chunks ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, c := range chunks {
		io.WriteString(w, c)
		http.NewResponseController(w).Flush()
	}
}

// serveSSE answers every completion with the given SSE text.
func serveSSE(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeSSE(w, text) }
}

// serveJSON answers with a status, content type and body.
func serveBody(status int, ctype, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func userReq(text string) *upstream.ChatRequest {
	return &upstream.ChatRequest{Model: "qwen3.7-plus", Messages: []upstream.Message{{Role: "user", Content: text}}}
}

// outcome is everything a stream produced.
type outcome struct {
	events []upstream.Event
	res    upstream.Result
	err    error // nil after a clean io.EOF
}

func (o outcome) text(t upstream.EventType) string {
	var b strings.Builder
	for _, e := range o.events {
		if e.Type == t {
			b.WriteString(e.Text)
		}
	}
	return b.String()
}

// run opens a chat and drains it.
func run(ctx context.Context, c *Client, req *upstream.ChatRequest) (outcome, error) {
	s, err := c.OpenChat(ctx, testCred, req)
	if err != nil {
		return outcome{}, err
	}
	defer s.Close()
	var o outcome
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			o.res = s.Result()
			return o, nil
		}
		if err != nil {
			o.err = err
			return o, nil
		}
		if ev.Text == "" && (ev.Type != upstream.EventCitation || ev.Citation == nil || ev.Citation.URL == "") {
			return o, errors.New("empty event")
		}
		o.events = append(o.events, ev)
	}
}

func kindOf(err error) upstream.Kind { return upstream.KindOf(err) }

func mustJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return m
}

// checkNoToken fails when err's text leaks the token.
func checkNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "SECRET")) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

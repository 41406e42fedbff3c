package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/keys"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const adminKey = "admin-key-0123456789"

// Secrets the tests send; none may appear in a response or a log line.
const (
	secretToken    = "eyJtoken-SECRET-abcdef"
	secretPassword = "hunter2-SECRET-password"
	secretProxy    = "http://user:proxySECRET@10.0.0.1:3128"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t        *testing.T
	h        http.Handler
	accounts *fakeAccounts
	keyStore *memKeys
	keys     *keys.Service
	usage    *memUsage
	logs     *syncBuffer
	bodies   []string // every response body, for the secret scan
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	hs := &harness{t: t, accounts: &fakeAccounts{}, keyStore: &memKeys{}, usage: &memUsage{}, logs: &syncBuffer{}}
	hs.keys = keys.NewService(hs.keyStore, nil, hs.usage)
	log := slog.New(slog.NewJSONHandler(hs.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hs.h = New(adminKey, hs.accounts, hs.keys, hs.usage, log)
	return hs
}

func (hs *harness) doAuth(method, path, body, auth string) (int, map[string]any, string) {
	hs.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	raw := rec.Body.String()
	hs.bodies = append(hs.bodies, raw)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		hs.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, raw)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		hs.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
	}
	return rec.Code, m, raw
}

func (hs *harness) do(method, path, body string) (int, map[string]any, string) {
	hs.t.Helper()
	return hs.doAuth(method, path, body, "Bearer "+adminKey)
}

// wantError checks an OpenAI-shaped error with the given status and param.
func wantError(t *testing.T, status int, m map[string]any, wantStatus int, typ, param string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d (%v)", status, wantStatus, m)
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %v", m)
	}
	for _, f := range []string{"message", "type", "param", "code"} {
		if _, ok := e[f]; !ok {
			t.Fatalf("error lacks %q: %v", f, e)
		}
	}
	if typ != "" && e["type"] != typ {
		t.Fatalf("type %v, want %s", e["type"], typ)
	}
	if param != "" && e["param"] != param {
		t.Fatalf("param %v, want %s", e["param"], param)
	}
}

func TestAuth(t *testing.T) {
	hs := newHarness(t)
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + adminKey, "Bearer " + adminKey + "x"} {
		st, m, _ := hs.doAuth("GET", "/admin/keys", "", auth)
		wantError(t, st, m, http.StatusUnauthorized, "authentication_error", "")
	}
	// Unknown routes are not revealed before authentication either.
	st, m, _ := hs.doAuth("GET", "/admin/nope", "", "")
	wantError(t, st, m, http.StatusUnauthorized, "", "")
	if st, _, _ := hs.doAuth("GET", "/admin/keys", "", "bearer "+adminKey); st != http.StatusOK {
		t.Fatalf("lower-case bearer: %d", st)
	}

	off := New("", hs.accounts, hs.keys, hs.usage, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/keys", nil)
	req.Header.Set("Authorization", "Bearer ")
	off.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("empty admin key accepted a request: %d", rec.Code)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	hs := newHarness(t)
	st, m, _ := hs.do("GET", "/admin/nope", "")
	wantError(t, st, m, http.StatusNotFound, "invalid_request_error", "")
	req := httptest.NewRequest("PUT", "/admin/keys", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") ||
		!strings.Contains(rec.Body.String(), `"method_not_allowed"`) {
		t.Fatalf("405: %d %q %s", rec.Code, rec.Header().Get("Allow"), rec.Body.String())
	}
}

func TestStatus(t *testing.T) {
	hs := newHarness(t)
	hs.do("POST", "/admin/accounts", `{"token":"`+secretToken+`"}`)
	hs.do("POST", "/admin/accounts", `{"name":"b","token":"`+secretToken+`2"}`)
	hs.do("POST", "/admin/accounts/2/disable", "")
	st, m, _ := hs.do("GET", "/admin/status", "")
	if st != http.StatusOK || m["accounts"] != 2.0 {
		t.Fatalf("%d %v", st, m)
	}
	states := m["states"].(map[string]any)
	if states["active"] != 1.0 || states["disabled"] != 1.0 || states["quarantined"] != 0.0 {
		t.Fatalf("states %v", states)
	}
	hs.assertNoSecrets()
}

// assertNoSecrets scans every response and log line so far.
func (hs *harness) assertNoSecrets(extra ...string) {
	hs.t.Helper()
	secrets := append([]string{secretToken, secretPassword, "proxySECRET", refusedToken}, extra...)
	logs := hs.logs.String()
	for _, s := range secrets {
		for _, b := range hs.bodies {
			if strings.Contains(b, s) {
				hs.t.Fatalf("secret %q in a response: %s", s, b)
			}
		}
		if strings.Contains(logs, s) {
			hs.t.Fatalf("secret %q in the log:\n%s", s, logs)
		}
	}
}

func TestBodyLimitAndStrictness(t *testing.T) {
	hs := newHarness(t)
	big := `{"name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	tests := []struct {
		name, body string
		status     int
		param      string
	}{
		{"too large", big, http.StatusRequestEntityTooLarge, ""},
		{"empty", "", http.StatusBadRequest, ""},
		{"not json", "{nope", http.StatusBadRequest, ""},
		{"truncated", `{"name":"a"`, http.StatusBadRequest, ""},
		{"unknown field", `{"name":"a","admin":true}`, http.StatusBadRequest, "admin"},
		{"wrong type", `{"rpm":"ten"}`, http.StatusBadRequest, "rpm"},
		{"two objects", `{} {}`, http.StatusBadRequest, ""},
		{"array", `[]`, http.StatusBadRequest, ""},
		{"bad expiry", `{"expires_at":"tomorrow"}`, http.StatusBadRequest, "expires_at"},
		{"negative rpm", `{"rpm":-1}`, http.StatusBadRequest, "rpm"},
		{"past expiry", `{"expires_at":"2001-01-01T00:00:00Z"}`, http.StatusBadRequest, "expires_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, m, _ := hs.do("POST", "/admin/keys", tc.body)
			wantError(t, st, m, tc.status, "invalid_request_error", tc.param)
		})
	}
	if ks, _ := hs.keys.List(t.Context()); len(ks) != 0 {
		t.Fatalf("a bad request created %d keys", len(ks))
	}
}

func TestPanicIsA500(t *testing.T) {
	hs := newHarness(t)
	hs.h = New(adminKey, panicky{hs.accounts}, hs.keys, hs.usage, slog.New(slog.NewJSONHandler(hs.logs, nil)))
	st, m, _ := hs.do("GET", "/admin/accounts", "")
	wantError(t, st, m, http.StatusInternalServerError, "server_error", "")
}

type panicky struct{ *fakeAccounts }

func (panicky) List(context.Context) ([]AccountView, error) {
	panic("boom")
}

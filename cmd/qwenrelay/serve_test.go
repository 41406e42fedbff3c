package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// startServe runs serve in the background against an emulated upstream and
// returns the relay's base URL and serve's result channel.
func startServe(t *testing.T, ctx context.Context, edit func(*config.Config)) (string, config.Config, <-chan error) {
	t.Helper()
	emu := qwenfake.New(qwenfake.Options{})
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(func() {
		emu.Close()
		emuSrv.CloseClientConnections()
		emuSrv.Close()
	})
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.UpstreamURL = emuSrv.URL
	cfg.QwenTokens = []string{emu.MintToken("alice", time.Hour)}
	cfg.ReadyFile = filepath.Join(t.TempDir(), "ready")
	cfg.LogLevel = "warn"
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	logs := &strings.Builder{}
	go func() { done <- serve(ctx, cfg, &lockedBuilder{b: logs}) }()
	for {
		if b, err := os.ReadFile(cfg.ReadyFile); err == nil && len(b) > 0 {
			return "http://" + string(b), cfg, done
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Issue 6: a stream still open when shutdown_timeout runs out gets an
// OpenAI error event and [DONE] instead of a silent cut; its usage row is
// flushed and serve returns nil (exit code 0).
func TestShutdownEndsOpenStreams(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base, cfg, done := startServe(t, ctx, func(c *config.Config) { c.ShutdownTimeout = 100 * time.Millisecond })
	body := `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"Go on. [[qwenfake tokens=100000 delay=20ms]]"}]}`
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var data []string
	for sc.Scan() && len(data) < 2 { // the answer has begun
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	stop() // SIGTERM
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("the stream was cut: %v (got %d frames)", err, len(data))
	}
	if len(data) < 4 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("the stream did not end with [DONE]: last frames %q", data[max(0, len(data)-3):])
	}
	var last struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(data[len(data)-2]), &last); err != nil || last.Error.Code != "server_shutting_down" ||
		last.Error.Type != "server_error" || !strings.Contains(last.Error.Message, "shutting down") {
		t.Fatalf("want the shutdown error event before [DONE], got %q (%v)", data[len(data)-2], err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v, want nil (exit code 0)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
	st, err := app.OpenStore(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.QueryUsage(context.Background(), store.UsageFilter{})
	if err != nil || len(rows) != 1 || rows[0].ErrorKind != "server_shutting_down" || rows[0].CompletionTokens == 0 {
		t.Fatalf("usage rows %+v, %v; want one, recording the shutdown and the tokens spent", rows, err)
	}
}

// /metrics on the admin listener needs the admin key.
func TestAdminMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("go_goroutines 1\n")) })
	admin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tt := range []struct {
		name, key, method, path, auth string
		want                          int
	}{
		{"right key", "adm", "GET", "/metrics", "Bearer adm", 200},
		{"lower-case bearer", "adm", "GET", "/metrics", "bearer adm", 200},
		{"no key", "adm", "GET", "/metrics", "", 401},
		{"wrong key", "adm", "GET", "/metrics", "Bearer adx", 401},
		{"no admin key configured", "", "GET", "/metrics", "Bearer ", 401},
		{"other paths go to the admin API", "adm", "GET", "/admin/status", "", http.StatusTeapot},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			adminWithMetrics(tt.key, admin, metrics).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("%d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if w.Code == 401 && !strings.Contains(w.Body.String(), "invalid_admin_key") {
				t.Fatalf("not an OpenAI error: %s", w.Body)
			}
		})
	}
}

// lockedBuilder is a strings.Builder safe for the relay's concurrent logs.
type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Issue 6: a data directory that cannot be opened is named, with its cause.
func TestBadDataDir(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbIsDir := filepath.Join(root, "dbdir")
	if err := os.MkdirAll(filepath.Join(dbIsDir, app.DBFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(root, "ro")
	if err := os.MkdirAll(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, cause string
		skipAsRoot       bool
	}{
		{"a file", file, "not a directory", false},
		{"under a file", filepath.Join(file, "data"), "not a directory", false},
		{"database path is a directory", dbIsDir, "is a directory", false},
		{"not writable", readOnly, "permission denied", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipAsRoot && os.Geteuid() == 0 {
				t.Skip("root may write anywhere")
			}
			cfg := config.Default()
			cfg.DataDir = tt.dir
			cfg.Listen = "127.0.0.1:0"
			var logs strings.Builder
			err := serve(context.Background(), cfg, &lockedBuilder{b: &logs})
			if err == nil {
				t.Fatal("serve started on a broken data directory")
			}
			if !strings.Contains(err.Error(), tt.dir) || !strings.Contains(err.Error(), tt.cause) {
				t.Fatalf("error %q does not name %s and its cause %q", err, tt.dir, tt.cause)
			}
		})
	}
}

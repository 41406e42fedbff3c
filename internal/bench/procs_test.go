package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeChildEnv makes the test binary act as a child process: a relay-like
// OpenAI server that writes its ready file like qwenrelay does.
const fakeChildEnv = "BENCH_TEST_FAKE_CHILD"

func fakeChildMain() int {
	mode := os.Getenv(fakeChildEnv)
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "fake child: configured to crash")
		return 3
	}
	ready := ""
	for i, a := range os.Args {
		if a == "--ready-file" && i+1 < len(os.Args) {
			ready = os.Args[i+1]
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	switch key := os.Getenv("QWENRELAY_API_KEY"); mode {
	case "soak", "soak-faithful":
		mux.Handle("/v1/", soakRelayHandler(key, mode == "soak-faithful"))
	case "soak-leaky": // leaks a goroutine per request
		h := soakRelayHandler(key, true)
		block := make(chan struct{})
		mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
			go func() { <-block }()
			h.ServeHTTP(w, r)
		})
	default:
		mux.Handle("/v1/", openAIHandler(&behaviour{}, key))
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	if err := os.WriteFile(ready, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
	return 0
}

func startFake(t *testing.T, mode string) (*child, error) {
	t.Helper()
	return startChild(context.Background(), childSpec{
		name: "fake", bin: os.Args[0], dir: t.TempDir(), args: []string{"serve"},
		env: []string{fakeChildEnv + "=" + mode, "QWENRELAY_API_KEY=key"},
	})
}

func TestChildLifecycle(t *testing.T) {
	checkLeaks(t)
	c, err := startFake(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.url, "http://127.0.0.1:") {
		t.Errorf("url = %q", c.url)
	}
	s := newRelayClient(c.url, "key", transport(t, 2))
	got, err := s.stream(context.Background(), prompt("life", 3, 0), nil)
	if err != nil || got != testAnswer("life", 3) {
		t.Errorf("stream through the child = %q, %v", got, err)
	}
	ps, err := readProc(c.pid())
	if err != nil || ps.RSSKB <= 0 || ps.FDs <= 0 || ps.Threads <= 0 {
		t.Errorf("readProc(child) = %+v, %v", ps, err)
	}
	c.stop()
	if gone, err := c.exited(); !gone || err != nil {
		t.Errorf("after stop: exited %v, %v; want a clean exit", gone, err)
	}
}

func TestChildThatCrashes(t *testing.T) {
	checkLeaks(t)
	_, err := startFake(t, "crash")
	if err == nil || !strings.Contains(err.Error(), "exited before listening") ||
		!strings.Contains(err.Error(), "configured to crash") {
		t.Fatalf("err = %v, want an early exit with the child's log", err)
	}
}

func TestRSSScenarioAgainstChild(t *testing.T) {
	checkLeaks(t)
	c, err := startFake(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	tr := transport(t, 8)
	s := newRelayClient(c.url, "key", tr)
	l := rssLoad{
		streams: 40, ramp: 8, tokens: 1000, delay: 50 * time.Millisecond, timeout: time.Minute,
		settle: 10 * time.Millisecond, seed: "rss",
		warmup: load{n: 10, c: 2, tokens: 3, timeout: time.Minute, seed: "w", answer: testAnswer},
	}
	probe := rssProbe{pid: c.pid(), goroutines: metricsGoroutines(c.url, "key", transport(t, 1))}
	r := l.run(context.Background(), s, probe)
	if !r.Available || r.Opened != 40 || r.Errors != 0 {
		t.Fatalf("rss result %+v", r)
	}
	// Streams may reuse the warm-up's idle connections, hence the slack.
	if r.Open.FDs < r.Idle.FDs+30 || r.GoroutinesOpen < r.GoroutinesIdle+30 {
		t.Errorf("open streams not visible: fds %d→%d, goroutines %d→%d",
			r.Idle.FDs, r.Open.FDs, r.GoroutinesIdle, r.GoroutinesOpen)
	}
	if !r.Released || r.GoroutinesAfter < 0 {
		t.Errorf("not released after cancel: %+v", r)
	}
}

func TestParseReadyAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"127.0.0.1:8080\n", "http://127.0.0.1:8080", true},
		{"http://127.0.0.1:9/", "http://127.0.0.1:9", true},
		{"[::1]:80", "http://[::1]:80", true},
		{":4000", "http://127.0.0.1:4000", true},
		{"127.0.0.1:", "", false},
		{"127.0.0.1:0", "", false},
		{"127.0.", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := parseReadyAddr(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseReadyAddr(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseGoroutines(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_threads 7\n", 42},
		{"goroutine profile: total 17\n5 @ 0x1\n", 17},
		{"go_goroutines 1.2e+06\n", 1200000},
		{"nothing here\n", -1},
	}
	for _, tt := range tests {
		if got := parseGoroutines([]byte(tt.in)); got != tt.want {
			t.Errorf("parseGoroutines(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

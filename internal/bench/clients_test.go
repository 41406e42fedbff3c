package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeChildEnv) != "" {
		os.Exit(fakeChildMain())
	}
	goleak.VerifyTestMain(m)
}

// checkLeaks verifies, after every other cleanup of t (servers, transports)
// has run, that no goroutine outlives the test.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// serve starts h on a loopback httptest server, closed with the test.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// transport returns a bench transport closed with the test.
func transport(t *testing.T, idle int) *http.Transport {
	t.Helper()
	tr := newTransport(idle)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestClientsDetectCorruptionAndCuts(t *testing.T) {
	checkLeaks(t)
	const key = "k"
	tests := []struct {
		name string
		mk   func(t *testing.T, b *behaviour) streamer
	}{
		{"direct", func(t *testing.T, b *behaviour) streamer {
			return newDirectClient(serve(t, qwenHandler(b)).URL, []string{"tok-a", "tok-b"}, transport(t, 4))
		}},
		{"relay", func(t *testing.T, b *behaviour) streamer {
			return newRelayClient(serve(t, openAIHandler(b, key)).URL, key, transport(t, 4))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &behaviour{corruptSuffix: "-3", cutSuffix: "-5"}
			l := load{n: 20, c: 4, tokens: 9, timeout: time.Minute, seed: "run", answer: testAnswer}
			r := l.run(context.Background(), tt.name, tt.mk(t, b))
			if r.OK != 18 || r.Corrupted != 1 || r.Errors != 1 || r.NotStarted != 0 || r.Started != 20 {
				t.Fatalf("ok/corrupted/errors/not started = %d/%d/%d/%d, want 18/1/1/0; %+v",
					r.OK, r.Corrupted, r.Errors, r.NotStarted, r)
			}
			if !strings.Contains(r.CorruptSamples[0], "run-"+tt.name+"-3") {
				t.Errorf("corruption sample %q does not name the seed", r.CorruptSamples[0])
			}
			if !strings.Contains(r.ErrorSamples[0], errCut.Error()) {
				t.Errorf("error sample %q, want a cut stream", r.ErrorSamples[0])
			}
			if r.ReqPerSec <= 0 || r.TTFT.P99 <= 0 || r.Total.P99 < r.TTFT.P99 {
				t.Errorf("implausible measures: %+v", r)
			}
		})
	}
}

func TestClientsReportHTTPErrors(t *testing.T) {
	checkLeaks(t)
	b := &behaviour{}
	relay := newRelayClient(serve(t, openAIHandler(b, "right")).URL, "wrong", transport(t, 2))
	_, err := relay.stream(context.Background(), prompt("s", 2, 0), nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "bad key") {
		t.Errorf("relay error = %v, want HTTP 401 with the body", err)
	}
	direct := newDirectClient(serve(t, qwenHandler(b)).URL, []string{""}, transport(t, 2))
	if _, err := direct.stream(context.Background(), prompt("s", 2, 0), nil); err == nil || !strings.Contains(err.Error(), "chats/new") {
		t.Errorf("direct error = %v, want a chats/new failure", err)
	}
}

func TestRunStopsAtDeadline(t *testing.T) {
	checkLeaks(t)
	b := &behaviour{}
	s := newRelayClient(serve(t, openAIHandler(b, "")).URL, "", transport(t, 2))
	// 1000 tokens 10 ms apart cannot finish within the bound.
	l := load{n: 10, c: 2, tokens: 1000, delay: 10 * time.Millisecond, timeout: 200 * time.Millisecond, seed: "d", answer: testAnswer}
	r := l.run(context.Background(), "relay", s)
	if r.OK != 0 || r.Errors != 2 || r.NotStarted != 8 {
		t.Fatalf("ok/errors/not started = %d/%d/%d, want 0/2/8", r.OK, r.Errors, r.NotStarted)
	}
	if !strings.Contains(r.ErrorSamples[0], errDeadline.Error()) {
		t.Errorf("error %q does not name the deadline", r.ErrorSamples[0])
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80", "127.1.2.3:9"} {
		if err := loopbackOnly("tcp", addr, nil); err != nil {
			t.Errorf("loopbackOnly(%s) = %v, want nil", addr, err)
		}
	}
	for _, addr := range []string{"10.0.0.1:80", "[2001:db8::1]:443", "8.8.8.8:53", "nonsense"} {
		if err := loopbackOnly("tcp", addr, nil); !errors.Is(err, errNotLoopback) {
			t.Errorf("loopbackOnly(%s) = %v, want errNotLoopback", addr, err)
		}
	}
	var _ func(string, string, syscall.RawConn) error = loopbackOnly
}

package qwen

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// TestDeleteChatsEmulator: whatever the outcome of an answer, its chat is
// deleted once the stream is released; with DeleteChats off they stay.
func TestDeleteChatsEmulator(t *testing.T) {
	texts := []string{
		"hi [[qwenfake tokens=3]]",                // answered
		"hi [[qwenfake fail=cut after=1]]",        // cut mid-stream
		"hi [[qwenfake fail=error_frame]]",        // error frame
		"hi [[qwenfake fail=http500]]",            // refused before the stream
		"hi [[qwenfake fail=empty]]",              // empty answer
		"hi [[qwenfake tokens=50 delay=1ms]]",     // closed early by the caller
		"hi [[qwenfake fail=content_filter]]",     // refused, not retryable
		"hi [[qwenfake tokens=2 dual=1 think=1]]", // two candidates
	}
	for _, del := range []bool{true, false} {
		t.Run(fmt.Sprintf("delete=%v", del), func(t *testing.T) {
			fake, client, cred := emulator(t, qwenfake.Options{})
			c := client(func(o *Options) { o.DeleteChats = del; o.DeleteConcurrency = 2 })
			for i, text := range texts {
				s, err := c.OpenChat(context.Background(), cred, userReq(text))
				if err != nil {
					continue
				}
				if i == 5 {
					_, _ = s.Next()
					s.Close() // the client went away
					continue
				}
				for {
					if _, err := s.Next(); err != nil {
						break
					}
				}
				s.Close()
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := fake.Stats()
			if st.ChatsNew != int64(len(texts)) {
				t.Fatalf("chats created %d, want %d", st.ChatsNew, len(texts))
			}
			wantAlive := int64(len(texts))
			if del {
				wantAlive = 0
			}
			if st.ChatsAlive != wantAlive || st.ChatsDeleted != st.ChatsNew-wantAlive {
				t.Fatalf("stats %+v, want %d alive", st, wantAlive)
			}
		})
	}
}

// countingTransport counts the requests per method that went through it.
type countingTransport struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestDeleteChatOutcomes: a 404 counts as deleted, other failures are
// logged as warnings without the token; the deletion uses the credential's
// own HTTP client (the account's proxy).
func TestDeleteChatOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		wantWarn bool
	}{
		{"deleted", http.StatusOK, false},
		{"already gone", http.StatusNotFound, false},
		{"server error", http.StatusInternalServerError, true},
		{"token rejected", http.StatusUnauthorized, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serveSSE(readTestdata(t, "v2_fast_answer.sse")))
			f.other = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"success":%v,"data":{"code":"X","details":"token %s"}}`, tc.status == 200, testToken)
			}
			var logs bytes.Buffer
			var logMu sync.Mutex
			c := f.client(t, func(o *Options) {
				o.DeleteChats = true
				o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			tr := &countingTransport{}
			defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			cred := testCred
			cred.HTTPClient = &http.Client{Transport: tr}
			s, err := c.OpenChat(context.Background(), cred, userReq("x"))
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := s.Next(); err != nil {
					break
				}
			}
			if err := c.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			r, ok := f.last("/api/v2/chats/" + testChatID)
			if !ok || r.Method != http.MethodDelete || r.Header.Get("Cookie") != "token="+testToken {
				t.Fatalf("no DELETE of the chat with the token: %+v", r)
			}
			tr.mu.Lock()
			n := tr.n[http.MethodDelete]
			tr.mu.Unlock()
			if n != 1 {
				t.Errorf("%d DELETEs through the credential's client, want 1", n)
			}
			logMu.Lock()
			out := logs.String()
			logMu.Unlock()
			if strings.Contains(out, "level=WARN") != tc.wantWarn {
				t.Errorf("warning logged = %v, want %v:\n%s", !tc.wantWarn, tc.wantWarn, out)
			}
			if strings.Contains(out, testToken) || strings.Contains(out, "SECRET") {
				t.Errorf("the log leaks the token:\n%s", out)
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestDeleteBoundedAndClose: at most DeleteConcurrency deletions run, the
// rest queue; Close with an ended context aborts the stuck ones and leaves
// no goroutine behind (goleak in TestMain); later chats are not deleted.
func TestDeleteBoundedAndClose(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	f := newFake(t, nil)
	f.other = func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}
	c := f.client(t, func(o *Options) { o.DeleteChats = true; o.DeleteConcurrency = 2 })
	for i := range 10 {
		c.chatDone(testCred, fmt.Sprintf("chat-%d", i))
	}
	c.janitor.mu.Lock()
	running, queued := c.janitor.running, len(c.janitor.queue)
	c.janitor.mu.Unlock()
	if running != 2 || queued != 8 {
		t.Fatalf("running %d, queued %d; want 2 and 8", running, queued)
	}
	close(release)
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := arrived.Load(); n != 10 {
		t.Fatalf("%d deletions reached the upstream, want 10", n)
	}

	began, stuck := make(chan struct{}), make(chan struct{})
	f.mu.Lock()
	f.other = func(w http.ResponseWriter, r *http.Request) { close(began); <-r.Context().Done(); close(stuck) }
	f.mu.Unlock()
	c.chatDone(testCred, "stuck")
	<-began
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Close(ctx); err != context.Canceled {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	<-stuck // the aborted call reached the upstream and was cut
	c.chatDone(testCred, "after-close")
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.last("/api/v2/chats/after-close"); ok {
		t.Error("a chat was deleted after Close")
	}
}

var _ upstream.Provider = (*Client)(nil)

package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// usageRows is a UsageSink keeping what it is given.
type usageRows struct {
	mu   sync.Mutex
	rows []store.UsageRecord
}

func (u *usageRows) Record(r store.UsageRecord) {
	u.mu.Lock()
	u.rows = append(u.rows, r)
	u.mu.Unlock()
}

func (u *usageRows) all() []store.UsageRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]store.UsageRecord(nil), u.rows...)
}

// Requests still open when the shutdown grace period runs out end properly:
// a stream with an OpenAI error event and [DONE] (never a silent cut), a
// request that has sent nothing with 503 server_shutting_down, and their
// usage rows are recorded.
func TestAbortOpenEndsRequests(t *testing.T) {
	tests := []struct {
		name   string
		stream bool
		first  bool // the upstream sends a first event, then hangs
	}{
		{"stream mid-answer", true, true},
		{"stream before the first byte", true, false},
		{"non-stream mid-answer", false, true},
		{"non-stream before the first byte", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened := make(chan struct{})
			prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
				close(opened)
				if !tt.first {
					<-ctx.Done() // no first byte until the request is cancelled
					return nil, ctx.Err()
				}
				ch := make(chan upstream.Event, 1)
				ch <- upstream.Event{Type: upstream.EventContent, Text: "partial"}
				return &chanStream{ctx: ctx, ch: ch, res: upstream.Result{Usage: upstream.Usage{PromptTokens: 4, CompletionTokens: 1}}}, nil
			}}
			rows := &usageRows{}
			ts := newTestServer(t, Options{Usage: rows}, prov)
			body := `{"model":"qwen3.7-plus","stream":` + map[bool]string{true: "true", false: "false"}[tt.stream] + `,"messages":[{"role":"user","content":"hi"}]}`
			// Without a first byte no header comes back before the abort.
			respc := make(chan *http.Response, 1)
			go func() {
				resp, err := ts.Client().Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
				}
				respc <- resp
			}()
			<-opened
			var resp *http.Response
			var br *bufio.Reader
			if tt.stream && tt.first {
				resp = <-respc
				br = bufio.NewReader(resp.Body)
				if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "partial") {
					t.Fatalf("first chunk: %q %v", line, err)
				}
			}
			if n := ts.srv.AbortOpen(); n != 1 {
				t.Errorf("AbortOpen saw %d open requests, want 1", n)
			}
			if err := ts.srv.WaitIdle(context.Background()); err != nil {
				t.Fatal(err)
			}
			if resp == nil {
				if resp = <-respc; resp == nil {
					t.Fatal("no response")
				}
			}
			defer resp.Body.Close()
			if tt.stream && tt.first {
				data, _ := sseData(t, br)
				chunks := decodeChunks(t, data)
				last := chunks[len(chunks)-1]
				if last.Error == nil || last.Error.Code != "server_shutting_down" || last.Error.Type != "server_error" || !strings.Contains(last.Error.Message, "shutting down") {
					t.Fatalf("want a shutdown error event before [DONE], got %q", data)
				}
			} else {
				eb := decodeError(t, resp, http.StatusServiceUnavailable)
				if eb.Error.Code == nil || *eb.Error.Code != "server_shutting_down" || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("want 503 server_shutting_down with Retry-After, got %+v %v", eb, resp.Header)
				}
			}
			got := rows.all()
			if len(got) != 1 {
				t.Fatalf("%d usage rows, want 1", len(got))
			}
			if tt.stream && tt.first && (got[0].ErrorKind != "server_shutting_down" || got[0].PromptTokens != 4) {
				t.Errorf("usage row %+v", got[0])
			}
			if !(tt.stream && tt.first) && got[0].Status != http.StatusServiceUnavailable {
				t.Errorf("usage row status %d, want 503", got[0].Status)
			}
		})
	}
}

// After AbortOpen, a request that still reaches the handler (on a kept-alive
// connection) is refused at once, and an answer that finished normally is
// left alone.
func TestAbortOpenLaterRequestsAndFinishedStreams(t *testing.T) {
	ts := newTestServer(t, Options{}, &fakeProvider{open: answer(upstream.Event{Type: upstream.EventContent, Text: "whole"})})
	body := `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	resp := ts.post(t, "/v1/chat/completions", body)
	b, _ := io.ReadAll(resp.Body)
	if ts.srv.AbortOpen() != 0 {
		t.Error("a finished request is still counted open")
	}
	if strings.Contains(string(b), "shutting") || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Fatalf("a finished stream was changed: %q", b)
	}
	eb := decodeError(t, ts.post(t, "/v1/chat/completions", body), http.StatusServiceUnavailable)
	if *eb.Error.Code != "server_shutting_down" {
		t.Fatalf("%+v", eb)
	}
}

// A stream whose client stopped reading does not hold the shutdown up: the
// closing write has a short deadline of its own.
func TestAbortOpenStalledClient(t *testing.T) {
	prov := &fakeProvider{open: func(ctx context.Context, _ upstream.Credential, _ *upstream.ChatRequest) (upstream.Stream, error) {
		ch := make(chan upstream.Event, 1)
		big := strings.Repeat("x", 64<<10)
		go func() {
			for {
				select {
				case ch <- upstream.Event{Type: upstream.EventContent, Text: big}:
				case <-ctx.Done():
					return
				}
			}
		}()
		return &chanStream{ctx: ctx, ch: ch}, nil
	}}
	ts := newTestServer(t, Options{ClientWriteTimeout: time.Hour}, prov)
	_ = ts.post(t, "/v1/chat/completions", `{"model":"qwen3.7-plus","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	for ts.srv.inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ts.srv.AbortOpen()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.srv.WaitIdle(ctx); err != nil {
		t.Fatal("the handler of a stalled client outlived the shutdown")
	}
}

package qwen

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// blockUntilGone waits for the client to leave (bounded, so a bug cannot
// hang the test run).
func blockUntilGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func TestFirstByteTimeout(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		http.NewResponseController(w).Flush() // headers only, then silence
		blockUntilGone(r)
	})
	c := f.client(t, func(o *Options) { o.FirstByteTimeout = 50 * time.Millisecond })
	o, err := run(context.Background(), c, userReq("x"))
	if err == nil {
		err = o.err
	}
	if kindOf(err) != upstream.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
}

func TestFirstByteTimeoutBeforeHeaders(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { blockUntilGone(r) })
	c := f.client(t, func(o *Options) { o.FirstByteTimeout = 50 * time.Millisecond })
	if _, err := c.OpenChat(context.Background(), testCred, userReq("x")); kindOf(err) != upstream.KindTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
	// chats/new is bounded too.
	f2 := newFake(t, nil)
	f2.newChat = func(w http.ResponseWriter, r *http.Request) { blockUntilGone(r) }
	c2 := f2.client(t, func(o *Options) { o.FirstByteTimeout = 50 * time.Millisecond })
	if _, err := c2.OpenChat(context.Background(), testCred, userReq("x")); kindOf(err) != upstream.KindTimeout {
		t.Fatalf("chats/new err = %v, want timeout", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, `data: {"choices": [{"delta": {"content": "Hi", "phase": "answer", "status": "typing"}}]}`+"\n\n")
		blockUntilGone(r)
	})
	c := f.client(t, func(o *Options) { o.FirstByteTimeout = 5 * time.Second; o.IdleTimeout = 50 * time.Millisecond })
	o, err := run(context.Background(), c, userReq("x"))
	if err != nil {
		t.Fatal(err)
	}
	if o.text(upstream.EventContent) != "Hi" || kindOf(o.err) != upstream.KindTimeout {
		t.Fatalf("events %v err %v", o.events, o.err)
	}
}

// A slow but steady stream outlives the idle timeout many times over.
func TestIdleTimeoutIsNotATotalCap(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w)
		for i := 0; i < 8; i++ {
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, `data: {"choices": [{"delta": {"content": "x", "phase": "answer", "status": "typing"}}]}`+"\n\n")
			http.NewResponseController(w).Flush()
		}
		io.WriteString(w, `data: {"choices": [{"delta": {"content": "", "phase": "answer", "status": "finished"}}]}`+"\n\n")
	})
	c := f.client(t, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
	o, err := run(context.Background(), c, userReq("x"))
	if err != nil || o.err != nil || o.text(upstream.EventContent) != "xxxxxxxx" {
		t.Fatalf("err %v/%v text %q", err, o.err, o.text(upstream.EventContent))
	}
}

func TestClientCancellation(t *testing.T) {
	started := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, `data: {"choices": [{"delta": {"content": "Hi", "phase": "answer", "status": "typing"}}]}`+"\n\n")
		close(started)
		blockUntilGone(r)
	})
	c := f.client(t, func(o *Options) { o.IdleTimeout = 5 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.OpenChat(ctx, testCred, userReq("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.Text != "Hi" {
		t.Fatal(ev, err)
	}
	<-started
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = s.Next()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, isUp := upstream.AsError(err); isUp {
		t.Fatalf("cancellation classified as upstream failure: %v", err)
	}
	// Cancelled before opening: the ctx error, unwrapped.
	if _, err := c.OpenChat(ctx, testCred, userReq("x")); err != context.Canceled {
		t.Fatalf("OpenChat with cancelled ctx: %v", err)
	}
}

func TestCloseMidStream(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeSSE(w, `data: {"choices": [{"delta": {"content": "Hi", "phase": "answer", "status": "typing"}}]}`+"\n\n")
		blockUntilGone(r)
	})
	s, err := f.client(t, nil).OpenChat(context.Background(), testCred, userReq("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := s.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
}

// Writes split inside multi-byte characters (and inside "data:") must not
// corrupt the text.
func TestSplitUTF8Writes(t *testing.T) {
	answer := "héllo 世界 🎉 ok"
	frames := `data: {"choices": [{"delta": {"content": "héllo 世", "phase": "answer", "status": "typing"}}]}` + "\n\n" +
		`data: {"choices": [{"delta": {"content": "界 🎉 ok", "phase": "answer", "status": "typing"}}]}` + "\n\n" +
		`data: {"choices": [{"delta": {"content": "", "phase": "answer", "status": "finished"}}]}` + "\n\n"
	for _, n := range []int{1, 2, 3, 5, 7} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeSSE(w, splitBytes(frames, n)...) })
		o, err := run(context.Background(), f.client(t, nil), userReq("x"))
		if err != nil || o.err != nil {
			t.Fatal(err, o.err)
		}
		got := o.text(upstream.EventContent)
		if got != answer {
			t.Errorf("chunk %d: %q", n, got)
		}
		for _, e := range o.events {
			if !utf8.ValidString(e.Text) {
				t.Errorf("chunk %d: invalid UTF-8 event %q", n, e.Text)
			}
		}
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestGzipBodies(t *testing.T) {
	sse := readTestdata(t, "v2_fast_answer.sse")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		for _, part := range strings.SplitAfter(sse, "\n\n") {
			zw.Write([]byte(part))
			zw.Flush()
			http.NewResponseController(w).Flush()
		}
		zw.Close()
	})
	f.newChat = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(`{"success":true,"data":{"id":"` + testChatID + `"}}`))
	}
	o, err := run(context.Background(), f.client(t, nil), userReq("x"))
	if err != nil || o.err != nil || o.text(upstream.EventContent) != "Hi!" {
		t.Fatalf("%v %v %q", err, o.err, o.text(upstream.EventContent))
	}
	// A gzip-encoded JSON error is classified after decoding.
	f2 := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(quotaJSON))
	})
	if _, err := run(context.Background(), f2.client(t, nil), userReq("x")); kindOf(err) != upstream.KindQuota {
		t.Fatalf("gzip quota: %v", err)
	}
}

func TestTransportDecodedGzip(t *testing.T) {
	// With Go's own Accept-Encoding the transport decodes transparently.
	sse := readTestdata(t, "v2_fast_answer.sse")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(sse))
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := f.client(t, func(o *Options) { o.HTTPClient = &http.Client{Transport: tr} })
	o, err := run(context.Background(), c, userReq("x"))
	if err != nil || o.err != nil || o.text(upstream.EventContent) != "Hi!" {
		t.Fatalf("%v %v", err, o.err)
	}
}

func TestSSEWithoutContentType(t *testing.T) {
	sse := readTestdata(t, "v2_fast_answer.sse")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing by the server either
		io.WriteString(w, sse)
	})
	o, err := run(context.Background(), f.client(t, nil), userReq("x"))
	if err != nil || o.err != nil || o.text(upstream.EventContent) != "Hi!" {
		t.Fatalf("%v %v", err, o.err)
	}
}

// Regression: error strings taken from a frame must not alias the SSE
// decoder's buffer, which later reads overwrite.
func TestFrameErrorDoesNotAliasBuffer(t *testing.T) {
	data := []byte(`{"error":{"code":"data_inspection_failed","details":"bad words"}}`)
	err := classifyFrame(data)
	bad := badFrame(view([]byte(`{"x":`)))
	for i := range data {
		data[i] = 'X'
	}
	ue, _ := upstream.AsError(err)
	if ue.Code != "data_inspection_failed" || !strings.Contains(ue.Message, "bad words") {
		t.Fatalf("error changed with the buffer: %v", err)
	}
	if !strings.Contains(bad.Error(), `{"x":`) {
		t.Fatalf("bad frame message: %v", bad)
	}
}

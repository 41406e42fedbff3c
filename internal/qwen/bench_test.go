package qwen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// benchTranscript is a typical answer: n answer frames in the captured
// spacing with full usage, then the finished frame.
func benchTranscript(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`data: {"response.created":{"chat_id": "605f6a1e", "parent_id": "0989b2c4", "response_id":"bceb7f10", "response_index": "0"}}` + "\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `data: {"choices": [{"delta": {"role": "assistant", "content": "token%d ", "phase": "answer", "status": "typing"}}], "response_id": "bceb7f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f", "usage": {"input_tokens": 1049, "output_tokens": %d, "characters": 0, "total_tokens": %d, "input_tokens_details": {"text_tokens": 1049}, "output_tokens_details": {"text_tokens": %d}, "prompt_tokens_details": {"cached_tokens": 0}}, "timestamp": 1780468951}`+"\n\n", i, i+1, 1050+i, i+1)
	}
	b.WriteString(`data: {"choices": [{"delta": {"content": "", "role": "assistant", "status": "finished", "phase": "answer"}}], "response_id": "bceb7f10"}` + "\n\n")
	return b.Bytes()
}

// BenchmarkFrames measures the frame hot path: SSE decoding + v2 parsing +
// event emission, no network.
func BenchmarkFrames(b *testing.B) {
	const n = 200
	raw := benchTranscript(n)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	rd := bytes.NewReader(raw)
	for b.Loop() {
		rd.Reset(raw)
		s := &stream{parent: context.Background(), cancel: func(error) {}, body: io.NopCloser(rd),
			dec: sse.NewDecoder(rd, maxFrame), h: &v2Handler{}, queue: make([]upstream.Event, 0, 4)}
		for {
			if _, err := s.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkParseFrame measures one answer frame.
func BenchmarkParseFrame(b *testing.B) {
	frame := []byte(`{"choices": [{"delta": {"role": "assistant", "content": "Hello", "phase": "answer", "status": "typing"}}], "response_id": "bceb7f10-2a3b-4c5d-9e8f-0a1b2c3d4e5f", "usage": {"input_tokens": 1049, "output_tokens": 7, "characters": 0, "total_tokens": 1056, "input_tokens_details": {"text_tokens": 1049}, "output_tokens_details": {"text_tokens": 7}, "prompt_tokens_details": {"cached_tokens": 0}}, "timestamp": 1780468951}`)
	s := bareStream()
	h := &v2Handler{}
	b.ReportAllocs()
	for b.Loop() {
		s.queue = s.queue[:0]
		if err := h.frame(s, frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenChat is a full exchange over loopback HTTP (chats/new +
// a 50-frame completion): the per-request cost of the client.
func BenchmarkOpenChat(b *testing.B) {
	raw := benchTranscript(50)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/chats/new", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true,"data":{"id":"`+testChatID+`"}}`)
	})
	mux.HandleFunc("/api/v2/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(raw)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	srv := hs.URL
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c, err := New(Options{BaseURL: srv, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		b.Fatal(err)
	}
	req := userReq(strings.Repeat("hello ", 20))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o, err := run(context.Background(), c, req)
			if err != nil || o.err != nil {
				b.Error(err, o.err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

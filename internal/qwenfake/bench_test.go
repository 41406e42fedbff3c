package qwenfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is a flushable ResponseWriter that drops the body.
type discardWriter struct {
	hdr http.Header
	n   int64
}

func (d *discardWriter) Header() http.Header         { return d.hdr }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { d.n += int64(len(b)); return len(b), nil }
func (d *discardWriter) Flush()                      {}

// BenchmarkStream64 serves a 64-token completion in process: the cost of
// the emulator itself (request decoding, auth, frames, accounting).
func BenchmarkStream64(b *testing.B) {
	for _, tc := range []struct {
		name   string
		think  bool
		format string
	}{{"answer", false, ""}, {"summary", true, "summary"}, {"detail", true, "detail"}} {
		b.Run(tc.name, func(b *testing.B) {
			s := New(Options{})
			defer s.Close()
			tok := s.MintToken("bench", time.Hour)
			id := newChatDirect(b, s, tok)
			raw, _ := json.Marshal(simpleBody(id, "qwen3.7-plus", "Benchmark [[qwenfake tokens=64 think=16 seed=b]]", tc.think, tc.format))
			req := httptest.NewRequest("POST", "/api/v2/chat/completions?chat_id="+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := &discardWriter{hdr: http.Header{}}
			rd := bytes.NewReader(raw)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rd.Reset(raw)
				req.Body = io.NopCloser(rd)
				clear(w.hdr)
				s.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n)/float64(b.N), "bytes/op")
		})
	}
}

// BenchmarkFrames64 is frame generation alone for a 64-token answer.
func BenchmarkFrames64(b *testing.B) {
	p := &streamPlan{seed: "b", tokens: 64, input: 1010, chatID: newUUID(), parentID: newUUID(), responseID: newUUID(), phase: true}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		enc := newV2Encoder(p, time.Now)
		buf = enc.frame(buf[:0], frameCreated, 0)
		for i := range p.tokens {
			buf = enc.frame(buf[:0], frameAnswer, i)
		}
		buf = enc.frame(buf[:0], frameFinish, 0)
	}
}

// BenchmarkStream64HTTP is a full round trip over loopback HTTP.
func BenchmarkStream64HTTP(b *testing.B) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer func() { tr.CloseIdleConnections(); s.Close(); ts.Close() }()
	c := &http.Client{Transport: tr}
	tok := s.MintToken("bench", time.Hour)
	id := newChatDirect(b, s, tok)
	raw, _ := json.Marshal(simpleBody(id, "qwen3.7-plus", "Benchmark [[qwenfake tokens=64 seed=b]]", false, ""))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", ts.URL+"/api/v2/chat/completions?chat_id="+id, bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
)

// mediaBody is a raw OpenAI chat request carrying a PNG of size bytes as a
// data: URI (or no image when size is 0).
func mediaBody(size int, stream bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"` + model + `","stream":`)
	if stream {
		b.WriteString("true")
	} else {
		b.WriteString("false")
	}
	b.WriteString(`,"messages":[{"role":"user","content":[{"type":"text","text":"hi [[qwenfake tokens=4 seed=m]]"}`)
	if size > 0 {
		img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{3}, size-8)...)
		b.WriteString(`,{"type":"image_url","image_url":{"url":"data:image/png;base64,`)
		b.WriteString(base64.StdEncoding.EncodeToString(img))
		b.WriteString(`"}}`)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

func (e *env) postChat(tb testing.TB, body []byte) *http.Response {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.relay.URL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.httpc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// BenchmarkRelayImage10MB relays one request with a 10 MB image (13.3 MB
// of base64 in the JSON body): read, decode, type check, STS, OSS PUT to
// the emulator (which counts the bytes and keeps none), completion. B/op
// is the relay's and the in-process emulator's allocation per request.
func BenchmarkRelayImage10MB(b *testing.B) {
	e := start(b, setup{cfg: func(c *config.Config) { c.MediaMaxBytes = 12 << 20 }})
	body := mediaBody(10<<20, false)
	b.SetBytes(10 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp := e.postChat(b, body)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
	}
}

// BenchmarkFirstTokenImage measures the time to the first content chunk
// of a stream without an image and with a 1 MB and a 10 MB image: the
// difference is what the upload adds (against the emulator on loopback).
func BenchmarkFirstTokenImage(b *testing.B) {
	for _, size := range []int{0, 1 << 20, 10 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			e := start(b, setup{cfg: func(c *config.Config) { c.MediaMaxBytes = 12 << 20 }})
			body := mediaBody(size, true)
			var total time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				resp := e.postChat(b, body)
				sc := bufio.NewScanner(resp.Body)
				got := false
				for sc.Scan() {
					if strings.Contains(sc.Text(), `"content":"`) {
						total += time.Since(t0)
						got = true
						break
					}
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if !got {
					b.Fatal("no content chunk")
				}
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/first-token")
		})
	}
}

func sizeName(n int) string {
	switch {
	case n == 0:
		return "no-image"
	case n >= 1<<20:
		return strings.TrimSuffix(strings.TrimSuffix(time.Duration(n>>20).String(), "ns"), "") + "MB"
	}
	return "small"
}

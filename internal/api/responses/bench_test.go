package responses

import (
	"context"
	"net/http"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// BenchmarkStreamTextEvent is the cost of one streamed text delta.
func BenchmarkStreamTextEvent(b *testing.B) {
	c := New(nil, 0)
	req, err := c.Decode(context.Background(), []byte(`{"model":"m","input":"x","stream":true}`), http.Header{})
	if err != nil {
		b.Fatal(err)
	}
	enc := c.NewStream(req, testMeta)
	buf := enc.Start(nil)
	ev := &api.Event{Type: api.EventText, Text: "some words of an answer "}
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Event(buf[:0], ev)
	}
}

// BenchmarkDecodeCodex is the cost of decoding a Codex CLI request.
func BenchmarkDecodeCodex(b *testing.B) {
	body := mustRead(b, "testdata/codex_request.json")
	c := New(nil, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(context.Background(), body, http.Header{}); err != nil {
			b.Fatal(err)
		}
	}
}

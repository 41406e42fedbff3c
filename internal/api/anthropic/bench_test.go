package anthropic

import (
	"context"
	"os"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// BenchmarkStreamText measures one text_delta frame (the hot path of a
// streamed answer).
func BenchmarkStreamText(b *testing.B) {
	enc := New().NewStream(&api.Request{}, testMeta)
	ev := &api.Event{Type: api.EventText, Text: "a few words of text"}
	buf := enc.Start(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Event(buf[:0], ev)
	}
}

// BenchmarkDecodeClaudeCode measures decoding the Claude Code request
// shape (23 KB, 10 tools).
func BenchmarkDecodeClaudeCode(b *testing.B) {
	body, err := os.ReadFile("testdata/claude_code_request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New().Decode(context.Background(), body, nil); err != nil {
			b.Fatal(err)
		}
	}
}

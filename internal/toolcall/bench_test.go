package toolcall

import (
	"strings"
	"testing"
)

// BenchmarkParserFrame measures the cost of one Feed (one upstream frame).
// Frames are cut like upstream deltas: a few bytes each (tokens), or 1..3
// bytes for the worst case. A new parser starts for each pass over the
// stream, so setup and Close are included, amortised over the frames.
func BenchmarkParserFrame(b *testing.B) {
	prose := strings.Repeat("The quick brown fox jumps over the lazy dog; a < b and <b>bold</b> text. ", 40)
	withCalls := "I'll check both cities.\n" + hermesParis + "\n" + hermesOslo + "\n" + xmlSearch + "\nDone."
	cases := []struct {
		name   string
		stream string
		size   int
	}{
		{"plain/6B", prose, 6},
		{"plain/1B", prose, 1},
		{"calls/6B", withCalls, 6},
		{"calls/2B", withCalls, 2},
	}
	for _, bc := range cases {
		frames := cut(Answer, bc.stream, every(len(bc.stream), bc.size))
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.stream) / len(frames)))
			p := NewParser(testTools, Choice{}, true, nil)
			i := 0
			for b.Loop() {
				p.Feed(Answer, frames[i].text)
				if i++; i == len(frames) {
					p.Close()
					p = NewParser(testTools, Choice{}, true, nil)
					i = 0
				}
			}
		})
	}
}

package qwen

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// bareStream is a stream without a connection, for feeding frames directly.
func bareStream() *stream {
	return &stream{parent: context.Background(), queue: make([]upstream.Event, 0, 4)}
}

func seedFrames(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sse")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		for _, fr := range strings.Split(string(raw), "\n\n") {
			f.Add([]byte(strings.TrimPrefix(fr, "data: ")))
		}
	}
	f.Add([]byte(`[DONE]`))
	f.Add([]byte(`{"choices":[{"delta":{"content":"\ud800","phase":"answer"}}]}`))
	f.Add([]byte(`{"choices":[{"delta":{"phase":"thinking_summary","extra":{"summary_thought":{"content":["a","b\u00e9"]}}}}]}`))
}

// FuzzFrameParser feeds arbitrary payloads to both protocol parsers: they
// must never panic, and from valid UTF-8 never produce invalid UTF-8.
func FuzzFrameParser(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, h := range []frameHandler{&v2Handler{}, &legacyHandler{}} {
			s := bareStream()
			s.h = h
			// Twice: cumulative and summary state carry over.
			for i := 0; i < 2; i++ {
				_ = h.frame(s, append([]byte(nil), data...))
			}
			_ = h.end(s)
			if !utf8.Valid(data) {
				continue
			}
			for _, ev := range s.queue {
				if ev.Type == upstream.EventCitation {
					if c := ev.Citation; c == nil || !isWebURL(c.URL) || !utf8.ValidString(c.URL) || !utf8.ValidString(c.Title) {
						t.Fatalf("bad citation %+v from %q", c, data)
					}
					continue
				}
				if ev.Text == "" || !utf8.ValidString(ev.Text) {
					t.Fatalf("bad event %q from %q", ev.Text, data)
				}
			}
		}
	})
}

// FuzzDiffer checks the cumulative differ: cumulative prefixes of a text
// (cut on character boundaries) yield exactly the text; any sequence of
// valid pieces yields valid UTF-8 and never panics.
func FuzzDiffer(f *testing.F) {
	f.Add("Hello world!", []byte{3, 9})
	f.Add("héllo 世界 🎉", []byte{1, 2, 3, 4, 5})
	f.Add("<think>a</think>b", []byte{2, 7, 9})
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		if !utf8.ValidString(text) {
			return
		}
		var pieces []string
		prev := 0
		for _, c := range cuts {
			at := prev + int(c)
			if at > len(text) {
				break
			}
			for at < len(text) && !utf8.RuneStart(text[at]) {
				at++
			}
			pieces = append(pieces, text[prev:at])
			prev = at
		}
		pieces = append(pieces, text[prev:])
		// Cumulative: every frame repeats all text so far.
		var d differ
		var out strings.Builder
		for i := range pieces {
			cum := strings.Join(pieces[:i+1], "")
			out.WriteString(d.next(cum))
		}
		if out.String() != text {
			t.Fatalf("cumulative: got %q want %q", out.String(), text)
		}
		// Incremental: valid output, and exact when the first piece is not
		// repeated at the start of the second (the only ambiguous case).
		var di differ
		out.Reset()
		for _, p := range pieces {
			o := di.next(p)
			if !utf8.ValidString(o) {
				t.Fatalf("invalid UTF-8 %q", o)
			}
			out.WriteString(o)
		}
		nonEmpty := pieces[:0:0]
		for _, p := range pieces {
			if p != "" {
				nonEmpty = append(nonEmpty, p)
			}
		}
		if len(nonEmpty) >= 2 && !strings.HasPrefix(nonEmpty[1], nonEmpty[0]) && out.String() != text {
			t.Fatalf("incremental: got %q want %q", out.String(), text)
		}
	})
}

// FuzzThinkSplitter: how the text is chunked must not change the result.
func FuzzThinkSplitter(f *testing.F) {
	f.Add("<think>\nStep one.</think>\n\nÉté", []byte{3, 4, 10})
	f.Add("  <thi", []byte{1})
	f.Add("plain <think> text", []byte{8})
	f.Fuzz(func(t *testing.T, text string, cuts []byte) {
		if !utf8.ValidString(text) {
			return
		}
		whole := splitAll([]string{text})
		var pieces []string
		rest := text
		for _, c := range cuts {
			n := min(int(c)%8, len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		pieces = append(pieces, rest)
		if got := splitAll(pieces); got != whole {
			t.Fatalf("chunking changed the result: %q vs %q", got, whole)
		}
	})
}

func splitAll(pieces []string) string {
	s := bareStream()
	var sp thinkSplitter
	for _, p := range pieces {
		sp.feed(s, p)
	}
	sp.flush(s)
	var r, c strings.Builder
	for _, ev := range s.queue {
		if ev.Type == upstream.EventReasoning {
			r.WriteString(ev.Text)
		} else {
			c.WriteString(ev.Text)
		}
	}
	return "R:" + r.String() + "|C:" + c.String()
}

// FuzzStream runs whole byte streams through the SSE decoder and the v2
// parser the way Next does.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sse")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := bareStream()
		h := &v2Handler{}
		dec := sse.NewDecoder(strings.NewReader(string(raw)), 1<<16)
		for i := 0; i < 1000; i++ {
			ev, err := dec.Next()
			if err != nil {
				break
			}
			if h.frame(s, ev.Data) != nil {
				break
			}
		}
	})
}

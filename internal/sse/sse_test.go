package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func collect(t testing.TB, r io.Reader, max int) ([]Event, error) {
	t.Helper()
	d := NewDecoder(r, max)
	var out []Event
	for {
		ev, err := d.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		ev.Data = append([]byte(nil), ev.Data...)
		out = append(out, ev)
	}
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "type|data"
	}{
		{"basic", "data: a\n\ndata: b\n\n", []string{"|a", "|b"}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"|a", "|b"}},
		{"cr only", "data: a\r\rdata: b\r\r", []string{"|a", "|b"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"|a\nb"}},
		{"comments ignored", ": ping\n\n: x\ndata: a\n\n", []string{"|a"}},
		{"event type", "event: error\ndata: {}\n\n", []string{"error|{}"}},
		{"no space after colon", "data:a\n\n", []string{"|a"}},
		{"only first space stripped", "data:  a\n\n", []string{"| a"}},
		{"field without colon", "data\n\n", []string{"|"}},
		{"unknown fields ignored", "retry: 10\nfoo: bar\ndata: a\n\n", []string{"|a"}},
		{"empty event without data is not dispatched", "event: x\n\ndata: a\n\n", []string{"|a"}},
		{"pending event at EOF is dispatched", "data: a\n\ndata: b", []string{"|a", "|b"}},
		{"utf-8", "data: 你好🙂\n\n", []string{"|你好🙂"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, reader := range []func(string) io.Reader{
				func(s string) io.Reader { return strings.NewReader(s) },
				func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
			} {
				evs, err := collect(t, reader(tt.in), 0)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range evs {
					got = append(got, e.Type+"|"+string(e.Data))
				}
				if strings.Join(got, ";") != strings.Join(tt.want, ";") {
					t.Fatalf("got %q want %q", got, tt.want)
				}
			}
		})
	}
}

func TestDecoderLongLines(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	evs, err := collect(t, strings.NewReader("data: "+long+"\n\n"), 0)
	if err != nil || len(evs) != 1 || string(evs[0].Data) != long {
		t.Fatalf("long line: %v %d", err, len(evs))
	}
	if _, err := collect(t, strings.NewReader("data: "+long+"\n\n"), 1024); err != ErrEventTooLarge {
		t.Fatalf("want ErrEventTooLarge, got %v", err)
	}
}

func TestAppendData(t *testing.T) {
	got := string(AppendData(nil, []byte("a\nb")))
	if got != "data: a\ndata: b\n\n" {
		t.Fatalf("%q", got)
	}
	evs, _ := collect(t, strings.NewReader(got), 0)
	if string(evs[0].Data) != "a\nb" {
		t.Fatal("round trip")
	}
	if c := string(AppendComment(nil, "hi\nthere")); c != ": hithere\n\n" {
		t.Fatalf("%q", c)
	}
}

// FuzzDecoder checks the decoder never panics and that data written with
// AppendData reads back the same, whatever the chunking of the input.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("data: a\n\n"), []byte("x"))
	f.Add([]byte("data: a\r\ndata: b\r\r: c\n"), []byte("y\nz"))
	f.Fuzz(func(t *testing.T, raw, payload []byte) {
		_, _ = collect(t, bytes.NewReader(raw), 1<<16)
		_, _ = collect(t, iotest.HalfReader(bytes.NewReader(raw)), 1<<16)
		if bytes.ContainsRune(payload, '\r') {
			return
		}
		enc := AppendData(nil, payload)
		evs, err := collect(t, iotest.OneByteReader(bytes.NewReader(enc)), 0)
		if err != nil || len(evs) != 1 || !bytes.Equal(evs[0].Data, payload) {
			t.Fatalf("round trip of %q: %v %q", payload, err, evs)
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	frame := `data: {"choices": [{"delta": {"role": "assistant", "content": "Hello", "phase": "answer", "status": "typing"}}], "usage": {"input_tokens": 10, "output_tokens": 1}}` + "\n\n"
	in := strings.Repeat(frame, 64)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(strings.NewReader(in), 0)
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	}
}

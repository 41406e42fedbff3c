package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestFetchContentRules(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 2048)
	pdf := []byte("%PDF-1.7\n1 0 obj\n")
	docx := append([]byte("PK\x03\x04"), make([]byte, 40)...)
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		maxBytes    int64
		allowed     []string
		code        Code
		wantType    string
		wantName    string
		wantMessage string
	}{
		{name: "declared type", handler: serve("image/png", "", pngBytes), wantType: "image/png", wantName: "f.png"},
		{name: "missing type is sniffed", handler: serve("", "", pngBytes), wantType: "image/png"},
		{name: "generic type is sniffed", handler: serve("application/octet-stream", "", pdf), wantType: "application/pdf", wantName: "f.pdf"},
		{name: "wrong image format takes the sniffed one", handler: serve("image/jpeg", "", pngBytes), wantType: "image/png"},
		{name: "zip named docx", handler: serve("application/octet-stream", `attachment; filename="report.docx"`, docx),
			wantType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", wantName: "report.docx"},
		{name: "content disposition name", handler: serve("application/pdf", `attachment; filename="../../etc/q.pdf"`, pdf),
			wantType: "application/pdf", wantName: "q.pdf"},
		{name: "image claimed but html", handler: serve("image/png", "", []byte("<!DOCTYPE html><html>")),
			code: CodeTypeMismatch, wantMessage: "declared as image/png is actually text/html"},
		{name: "type not allowed", handler: serve("text/html", "", []byte("<html>")), allowed: []string{"image/*"},
			code: CodeUnsupportedType, wantMessage: "text/html is not accepted"},
		{name: "refused before the body is read", handler: serve("video/mp4", "", big), allowed: []string{"image/*"}, maxBytes: 10,
			code: CodeUnsupportedType, wantMessage: "video/mp4 is not accepted"},
		{name: "pdf allowed by exact pattern", handler: serve("application/pdf", "", pdf), allowed: []string{"image/*", "application/pdf"},
			wantType: "application/pdf"},
		{name: "exactly the limit", handler: serve("text/plain", "", big), maxBytes: 2048, wantType: "text/plain"},
		{name: "declared too large", handler: serve("text/plain", "", big), maxBytes: 2047,
			code: CodeTooLarge, wantMessage: "2048 bytes"},
		{name: "unknown length read to close", handler: untilClose(big), maxBytes: 1000, code: CodeTooLarge},
		{name: "chunked too large", handler: chunked(big), maxBytes: 1000, code: CodeTooLarge},
		{name: "http error", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) },
			code: CodeHTTPStatus, wantMessage: "HTTP 410"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.handler)
			n := newFakeNet(t, srv, map[string][]string{"public.test": {"93.184.216.34"}})
			f := n.fetcher()
			f.MaxBytes, f.AllowedTypes = tt.maxBytes, tt.allowed
			m, err := f.Fetch(context.Background(), "http://public.test/dir/f")
			if tt.code != "" {
				me := wantCode(t, err, tt.code)
				if !strings.Contains(me.Message, tt.wantMessage) {
					t.Fatalf("message %q lacks %q", me.Message, tt.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentType != tt.wantType {
				t.Errorf("type %s, want %s", m.ContentType, tt.wantType)
			}
			if tt.wantName != "" && m.Filename != tt.wantName {
				t.Errorf("filename %q, want %q", m.Filename, tt.wantName)
			}
		})
	}
}

func serve(contentType, disposition string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType == "" {
			w.Header()["Content-Type"] = nil // stop net/http from sniffing for us
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		if disposition != "" {
			w.Header().Set("Content-Disposition", disposition)
		}
		w.Write(body)
	}
}

// untilClose sends no Content-Length and no chunking: the body ends when
// the connection closes, so only the reader's own limit stops it.
func untilClose(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
		buf.Write(body)
		buf.Flush()
	}
}

func chunked(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		rc := http.NewResponseController(w)
		for i := 0; i < len(body); i += 100 {
			w.Write(body[i:min(i+100, len(body))])
			rc.Flush()
		}
	}
}

// TestFetchTimeAndCancel: a server that never answers hits the time limit;
// a caller that leaves gets canceled, not timeout. No timing is asserted.
func TestFetchTimeAndCancel(t *testing.T) {
	stall := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	slowBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(100))
		w.Write([]byte("partial"))
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
	tests := []struct {
		name    string
		handler func(cancel func()) http.HandlerFunc
		timeout time.Duration
		code    Code
	}{
		{"no headers in time", func(func()) http.HandlerFunc { return stall }, 50 * time.Millisecond, CodeTimeout},
		{"body too slow", func(func()) http.HandlerFunc { return slowBody }, 50 * time.Millisecond, CodeTimeout},
		{"caller canceled", func(cancel func()) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { cancel(); stall(w, r) }
		}, time.Hour, CodeCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := newServer(t, tt.handler(cancel))
			n := newFakeNet(t, srv, map[string][]string{"public.test": {"93.184.216.34"}})
			f := n.fetcher()
			f.Timeout = tt.timeout
			_, err := f.Fetch(ctx, "http://public.test/x")
			wantCode(t, err, tt.code)
		})
	}
}

func TestReadBlocks(t *testing.T) {
	for _, size := range []int{0, 1, 64 << 10, 64<<10 + 1, 300_000, 5 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			want := make([]byte, size)
			for i := range want {
				want[i] = byte(i * 7)
			}
			got, err := readBlocks(iotest.HalfReader(bytes.NewReader(want)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("readBlocks: %d bytes, %v; want %d bytes", len(got), err, size)
			}
		})
	}
	_, err := readBlocks(iotest.ErrReader(io.ErrClosedPipe))
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v", err)
	}
}

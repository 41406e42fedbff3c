package media

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// tenMBImage is a 10 MB "PNG" (the signature, then random bytes so base64
// has no easy patterns).
func tenMBImage() []byte {
	b := make([]byte, 10<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	copy(b, pngBytes)
	return b
}

// BenchmarkParseDataURI10MB: the decoded payload should be the only large
// allocation (B/op ≈ 10 MB): the base64 text is read in place, not copied.
func BenchmarkParseDataURI10MB(b *testing.B) {
	img := tenMBImage()
	enc := base64.StdEncoding.EncodeToString(img)
	wrapped := wrap(enc, 76)
	cases := []struct{ name, uri string }{
		{"base64", "data:image/png;base64," + enc},
		{"base64-line-wrapped", "data:image/png;base64," + wrapped},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				mt, data, err := ParseDataURI(c.uri)
				if err != nil || mt != "image/png" || len(data) != len(img) {
					b.Fatalf("%s %d %v", mt, len(data), err)
				}
			}
		})
	}
}

func wrap(s string, width int) string {
	var sb strings.Builder
	for i := 0; i < len(s); i += width {
		sb.WriteString(s[i:min(i+width, len(s))])
		sb.WriteString("\r\n")
	}
	return sb.String()
}

// BenchmarkFetch10MB: a 10 MB image from a loopback server reached through
// the test network. With a Content-Length the body is read into one buffer
// of that size; without one the buffer grows as it reads.
func BenchmarkFetch10MB(b *testing.B) {
	img := tenMBImage()
	for _, withLength := range []bool{true, false} {
		name := map[bool]string{true: "content-length", false: "chunked"}[withLength]
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				if withLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(img)))
				}
				w.Write(img)
			}))
			defer srv.Close()
			n := &fakeNet{target: srv.Listener.Addr().String(), names: map[string][]string{"public.test": {"93.184.216.34"}}, lookups: map[string]int{}}
			f := n.fetcher()
			b.ReportAllocs()
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				m, err := f.Fetch(context.Background(), "http://public.test/big.png")
				if err != nil || len(m.Data) != len(img) {
					b.Fatal(err)
				}
			}
		})
	}
}

package media

import (
	"encoding/base64"
	"math/rand/v2"
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

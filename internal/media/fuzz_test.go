package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseDataURI(f *testing.F) {
	for _, s := range []string{
		"data:image/png;base64,iVBORw0KGgo=",
		"data:image/png;base64,iVBORw0KGgo",
		"data:image/png;base64,-_-_",
		"data:text/plain;charset=utf-8,Hello%20World",
		"data:,",
		"data:;base64,aGk%3D",
		"data:text/plain;name=\"a\";base64,aG\r\n k=",
		"data:image/png;base64,a===",
		"DATA:;BASE64,====",
		"data:text/plain,%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const limit = 1 << 16
		d, err := DecodeDataURI(s, limit)
		if err != nil {
			var me *Error
			if !asError(err, &me) || me.Message == "" {
				t.Fatalf("error %v is not a *media.Error with a message", err)
			}
			return
		}
		if int64(len(d.Data)) > limit || !strings.Contains(d.MediaType, "/") || d.Params == nil {
			t.Fatalf("bad result %q %v %d bytes", d.MediaType, d.Params, len(d.Data))
		}
		// Round trip: what we decoded, re-encoded canonically, decodes the same.
		again, err := DecodeDataURI("data:"+d.MediaType+";base64,"+base64.StdEncoding.EncodeToString(d.Data), limit)
		if err != nil || again.MediaType != d.MediaType || !bytes.Equal(again.Data, d.Data) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		// For base64 payloads without percent-escapes, the standard library agrees.
		header, payload, _ := strings.Cut(s[5:], ",")
		i := strings.LastIndexByte(header, ';')
		if i >= 0 && strings.EqualFold(strings.TrimSpace(header[i+1:]), "base64") && !strings.Contains(payload, "%") {
			ref := stdlibDecode(payload)
			if ref != nil && !bytes.Equal(ref, d.Data) {
				t.Fatalf("decoded %x, encoding/base64 says %x", d.Data, ref)
			}
		}
	})
}

// stdlibDecode decodes p with whichever encoding/base64 variant fits, after
// dropping whitespace; nil when none does.
func stdlibDecode(p string) []byte {
	p = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n\f", r) {
			return -1
		}
		return r
	}, p)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(p); err == nil {
			return b
		}
	}
	return nil
}

func FuzzFilePart(f *testing.F) {
	f.Add([]byte(`{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQ="}`))
	f.Add([]byte(`{"filename":"../x","file_data":"aGVsbG8="}`))
	f.Add([]byte(`{"file_id":"file-1"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseFilePart(raw)
		if err != nil {
			return
		}
		m, err := p.Decode(1<<16, []string{"*/*"})
		if err != nil {
			var me *Error
			if !asError(err, &me) {
				t.Fatalf("error %v is not a *media.Error", err)
			}
			return
		}
		if m.Filename == "" || strings.ContainsAny(m.Filename, "/\\\x00") || len(m.Filename) > maxFilenameBytes || !utf8.ValidString(m.Filename) {
			t.Fatalf("unsafe filename %q", m.Filename)
		}
		if m.ContentType == "" {
			t.Fatal("no content type")
		}
	})
}

func FuzzHostIP(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "::ffff:127.0.0.1", "example.com", "1.2.3.4.5", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		a, ok, err := hostIP(host)
		if err != nil || !ok {
			return
		}
		// The canonical form of a parsed address parses back to itself and is
		// classified the same.
		b, ok2, err2 := hostIP(a.WithZone("").String())
		if err2 != nil || !ok2 || b != a.WithZone("") {
			t.Fatalf("%q -> %v -> %v, %v", host, a, b, err2)
		}
		c1, _ := classify(a)
		c2, _ := classify(b)
		if c1 != c2 {
			t.Fatalf("%q: class %q vs %q", host, c1, c2)
		}
	})
}

// FuzzFetchURL: whatever the URL, Fetch answers with a *media.Error (the
// fake network never connects) and only ever tries to dial public addresses.
func FuzzFetchURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://[::ffff:7f00:1]/", "http://0x7f.1/", "https://public.test/a.png",
		"http://intranet.test:8080/", "http://[fe80::1%25lo]/", "http://1.1/", "HTTP://PUBLIC.TEST./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawURL string) {
		n := newFakeNet(t, nil, map[string][]string{"public.test": {"93.184.216.34"}, "intranet.test": {"10.1.1.1"}})
		_, err := n.fetcher().Fetch(context.Background(), rawURL)
		var me *Error
		if !asError(err, &me) || me.Message == "" {
			t.Fatalf("Fetch(%q) = %v, want a *media.Error", rawURL, err)
		}
		for _, d := range n.dials() {
			ap, perr := netip.ParseAddrPort(d)
			if perr != nil {
				t.Fatalf("dialed %q, not an address", d)
			}
			if c, _ := classify(ap.Addr()); c != classPublic {
				t.Fatalf("Fetch(%q) dialed %s (%s)", rawURL, d, c)
			}
		}
	})
}

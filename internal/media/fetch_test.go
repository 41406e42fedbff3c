package media

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func wantCode(t *testing.T, err error, code Code) *Error {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want *media.Error %s", err, err, code)
	}
	if me.Code != code {
		t.Fatalf("code = %s (%q), want %s", me.Code, me.Message, code)
	}
	return me
}

// TestFetchRefusesWithoutDialing: every refused target is refused before a
// single connection is attempted.
func TestFetchRefusesWithoutDialing(t *testing.T) {
	tests := []struct {
		name, url string
		code      Code
	}{
		{"loopback", "http://127.0.0.1/a.png", CodeBlockedAddress},
		{"loopback other", "http://127.8.9.10:8080/a.png", CodeBlockedAddress},
		{"localhost", "http://localhost/a.png", CodeBlockedAddress},
		{"localhost trailing dot", "http://LOCALHOST./a.png", CodeBlockedAddress},
		{"sub localhost", "http://app.localhost/a.png", CodeBlockedAddress},
		{"unspecified", "http://0.0.0.0/a.png", CodeBlockedAddress},
		{"ipv6 loopback", "http://[::1]/a.png", CodeBlockedAddress},
		{"ipv6 unspecified", "http://[::]/a.png", CodeBlockedAddress},
		{"ipv4-mapped loopback", "http://[::ffff:127.0.0.1]/a.png", CodeBlockedAddress},
		{"ipv4-mapped hex", "http://[::ffff:7f00:1]/a.png", CodeBlockedAddress},
		{"ipv4-compatible", "http://[::127.0.0.1]/a.png", CodeBlockedAddress},
		{"private 10", "http://10.0.0.1/a.png", CodeBlockedAddress},
		{"private 192.168", "http://192.168.1.20/a.png", CodeBlockedAddress},
		{"private 172.16", "http://172.16.5.4/a.png", CodeBlockedAddress},
		{"ula", "http://[fd00::1]/a.png", CodeBlockedAddress},
		{"metadata", "http://169.254.169.254/latest/meta-data/", CodeBlockedAddress},
		{"link-local v6 zone", "http://[fe80::1%25eth0]/a.png", CodeBlockedAddress},
		{"cgnat", "http://100.64.1.1/a.png", CodeBlockedAddress},
		{"multicast", "http://224.0.0.1/a.png", CodeBlockedAddress},
		{"broadcast", "http://255.255.255.255/a.png", CodeBlockedAddress},
		{"decimal literal", "http://2130706433/a.png", CodeBlockedAddress},
		{"hex literal", "http://0x7f000001/a.png", CodeBlockedAddress},
		{"octal literal", "http://0177.0.0.01/a.png", CodeBlockedAddress},
		{"short literal", "http://10.1/a.png", CodeBlockedAddress},
		{"name to private", "http://intranet.test/a.png", CodeBlockedAddress},
		{"name to loopback v6", "http://v6.test/a.png", CodeBlockedAddress},
		{"name to mapped loopback", "http://mapped.test/a.png", CodeBlockedAddress},
		{"name with mixed answers", "http://mixed.test/a.png", CodeBlockedAddress},
		{"bad literal", "http://256.1.1.1/a.png", CodeInvalidURL},
		{"ftp", "ftp://example.test/a.png", CodeInvalidURL},
		{"file", "file:///etc/passwd", CodeInvalidURL},
		{"gopher", "gopher://example.test/", CodeInvalidURL},
		{"relative", "/a.png", CodeInvalidURL},
		{"no host", "http:///a.png", CodeInvalidURL},
		{"credentials", "http://user:secret@public.test/a.png", CodeInvalidURL},
		{"not a url", "http://[::1/a.png", CodeInvalidURL},
		{"unknown name", "http://nowhere.test/a.png", CodeFetchFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t, nil, map[string][]string{
				"intranet.test": {"10.0.0.5"},
				"v6.test":       {"::1"},
				"mapped.test":   {"::ffff:127.0.0.1"},
				"public.test":   {"93.184.216.34"},
			})
			f := n.fetcher()
			f.LookupIP = mixedLookup(n)
			_, err := f.Fetch(context.Background(), tt.url)
			me := wantCode(t, err, tt.code)
			if d := n.dials(); len(d) != 0 {
				t.Fatalf("dialed %v; a refusal must not dial", d)
			}
			// Neither URL credentials nor what a name resolved to reach the client.
			if strings.Contains(me.Message, "secret") || strings.Contains(me.Message, "10.0.0.5") {
				t.Errorf("message %q leaks a credential or a resolved address", me.Message)
			}
		})
	}
}

// mixedLookup answers mixed.test with one public and one private address:
// the private one must sink the whole name.
func mixedLookup(n *fakeNet) func(context.Context, string) ([]netip.Addr, error) {
	return func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "mixed.test" {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("192.168.0.10")}, nil
		}
		return n.lookup(ctx, host)
	}
}

func TestFetchPublicName(t *testing.T) {
	var gotAccept atomic.Pointer[string]
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		accept := r.Header.Get("Accept")
		gotAccept.Store(&accept)
		if r.Host != "public.test" || r.URL.Path != "/pics/cat.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	})
	n := newFakeNet(t, srv, map[string][]string{"public.test": {"93.184.216.34"}})
	m, err := n.fetcher().Fetch(context.Background(), "http://public.test/pics/cat.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Data, pngBytes) || m.ContentType != "image/png" || m.Filename != "cat.png" || m.Kind() != KindImage {
		t.Fatalf("got %d bytes %s %q %s", len(m.Data), m.ContentType, m.Filename, m.Kind())
	}
	if accept := gotAccept.Load(); accept == nil || !strings.HasPrefix(*accept, "image/*, text/*, application/pdf") || !strings.HasSuffix(*accept, "*/*;q=0.1") {
		t.Errorf("Accept = %v", accept)
	}
	if d := n.dials(); len(d) != 1 || d[0] != "93.184.216.34:80" {
		t.Fatalf("dialed %v, want the checked address only", d)
	}
}

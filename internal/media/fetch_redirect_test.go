package media

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestFetchRedirects: the server is reached as a public name; where it
// redirects decides. Nothing may be dialed for a refused hop.
func TestFetchRedirects(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-private-literal":
			http.Redirect(w, r, "http://10.0.0.1/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusMovedPermanently)
		case "/to-mapped":
			http.Redirect(w, r, "http://[::ffff:127.0.0.1]:8080/", http.StatusTemporaryRedirect)
		case "/to-private-name":
			http.Redirect(w, r, "http://intranet.test/secret", http.StatusFound)
		case "/to-rebound-self":
			http.Redirect(w, r, "http://rebind.test/img.png", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/to-public":
			http.Redirect(w, r, "http://cdn.test/img.png", http.StatusFound)
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngBytes)
		default:
			http.NotFound(w, r)
		}
	})
	tests := []struct {
		name, url  string
		code       Code // "" = success
		wantDialed []string
		msg        string
	}{
		{name: "to private literal", url: "http://public.test/to-private-literal", code: CodeBlockedAddress,
			wantDialed: []string{"93.184.216.34:80"}, msg: "redirected: media URL host 10.0.0.1 is a private address"},
		{name: "to metadata", url: "http://public.test/to-metadata", code: CodeBlockedAddress,
			wantDialed: []string{"93.184.216.34:80"}, msg: "link-local"},
		{name: "to mapped loopback", url: "http://public.test/to-mapped", code: CodeBlockedAddress,
			wantDialed: []string{"93.184.216.34:80"}, msg: "loopback"},
		{name: "to name resolving private", url: "http://public.test/to-private-name", code: CodeBlockedAddress,
			wantDialed: []string{"93.184.216.34:80"}, msg: `"intranet.test" resolves to a private address`},
		{name: "dns rebinding on the next connection", url: "http://rebind.test/to-rebound-self", code: CodeBlockedAddress,
			wantDialed: []string{"93.184.216.34:80"}, msg: `"rebind.test" resolves to a loopback address`},
		{name: "to file scheme", url: "http://public.test/to-file", code: CodeInvalidURL,
			wantDialed: []string{"93.184.216.34:80"}, msg: `"file"`},
		{name: "loop", url: "http://public.test/loop", code: CodeTooManyRedirects,
			wantDialed: slices.Repeat([]string{"93.184.216.34:80"}, DefaultMaxRedirects+1)},
		{name: "to public", url: "http://public.test/to-public",
			wantDialed: []string{"93.184.216.34:80", "93.184.216.35:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t, srv, map[string][]string{
				"public.test":   {"93.184.216.34"},
				"cdn.test":      {"93.184.216.35"},
				"intranet.test": {"10.0.0.7"},
				"rebind.test":   {"93.184.216.34", "127.0.0.1"},
			})
			m, err := n.fetcher().Fetch(context.Background(), tt.url)
			if tt.code == "" {
				if err != nil || m.ContentType != "image/png" {
					t.Fatalf("Fetch = %v, %v", m, err)
				}
			} else {
				me := wantCode(t, err, tt.code)
				if !strings.Contains(me.Message, tt.msg) {
					t.Errorf("message %q lacks %q", me.Message, tt.msg)
				}
			}
			if got := n.dials(); !slices.Equal(got, tt.wantDialed) {
				t.Fatalf("dialed %v, want %v", got, tt.wantDialed)
			}
		})
	}
}

func TestFetchRedirectLimit(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/img.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngBytes)
			return
		}
		http.Redirect(w, r, "/img.png", http.StatusFound)
	})
	tests := []struct {
		name  string
		limit int
		code  Code
	}{
		{"default follows", 0, ""},
		{"one follows", 1, ""},
		{"negative follows none", -1, CodeTooManyRedirects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t, srv, map[string][]string{"public.test": {"93.184.216.34"}})
			f := n.fetcher()
			f.MaxRedirects = tt.limit
			_, err := f.Fetch(context.Background(), "http://public.test/start")
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

// TestDefaultDialer runs the real dialer (with its Control re-check) against
// the loopback test server: allowed only with AllowPrivate.
func TestDefaultDialer(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	})
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	tests := []struct {
		name         string
		allowPrivate bool
		code         Code
	}{
		{"refused", false, CodeBlockedAddress},
		{"allowed for LAN setups", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Fetcher{AllowPrivate: tt.allowPrivate, LookupIP: lookup}
			m, err := f.Fetch(context.Background(), "http://lan.test:"+port+"/x.png")
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || m.ContentType != "image/png" {
				t.Fatalf("Fetch = %v, %v", m, err)
			}
		})
	}
}

// TestControlRechecks: the last-line socket check refuses what the rule
// refuses, whatever resolved it.
func TestControlRechecks(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"[::ffff:10.0.0.1]:443", true},
		{"[fe80::1%eth0]:80", true},
		{"93.184.216.34:80", false},
		{"not-an-address", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			g := &guard{}
			err := g.control("tcp", tt.addr, nil)
			if (err != nil) != tt.refused {
				t.Fatalf("control(%s) = %v, refused want %v", tt.addr, err, tt.refused)
			}
		})
	}
}

package media

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
)

// pngBytes starts with the PNG signature, so http.DetectContentType says image/png.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)

// fakeNet stands in for DNS and the network: names resolve only through
// the table (never real DNS), and every dial, whatever address it names, is
// recorded and connected to the loopback test server. So a test can let a
// "public" name reach the server while proving what would have been dialed.
type fakeNet struct {
	t       *testing.T
	target  string              // test server address every dial goes to
	names   map[string][]string // host → addresses, per lookup round
	mu      sync.Mutex
	lookups map[string]int
	dialed  []string
}

func newFakeNet(t *testing.T, srv *httptest.Server, names map[string][]string) *fakeNet {
	t.Helper()
	n := &fakeNet{t: t, names: names, lookups: map[string]int{}}
	if srv != nil {
		n.target = srv.Listener.Addr().String()
	}
	return n
}

// lookup answers from the table; "a,b|c" style rounds are given as
// successive entries: names[host][i] is the answer to the i-th lookup (the
// last one repeats), letting a test rebind a name between connections.
func (n *fakeNet) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	answers, ok := n.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
	}
	i := min(n.lookups[host], len(answers)-1)
	n.lookups[host]++
	a, err := netip.ParseAddr(answers[i])
	if err != nil {
		return nil, fmt.Errorf("test table: %w", err)
	}
	return []netip.Addr{a}, nil
}

func (n *fakeNet) dial(ctx context.Context, network, address string) (net.Conn, error) {
	n.mu.Lock()
	n.dialed = append(n.dialed, address)
	n.mu.Unlock()
	if n.target == "" {
		return nil, fmt.Errorf("test dialer: no server")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, n.target)
}

func (n *fakeNet) dials() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dialed...)
}

func (n *fakeNet) fetcher() *Fetcher {
	return &Fetcher{LookupIP: n.lookup, Dial: n.dial}
}

// newServer starts a loopback test server and closes it at the end.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

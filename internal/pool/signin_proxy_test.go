package pool

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// forwardProxy is a plain HTTP forward proxy that records what went
// through it.
type forwardProxy struct {
	srv  *httptest.Server
	tr   *http.Transport
	mu   sync.Mutex
	seen map[string]int // "METHOD /path"
}

func newForwardProxy(t *testing.T) *forwardProxy {
	p := &forwardProxy{tr: &http.Transport{}, seen: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen[r.Method+" "+r.URL.Path]++
		p.mu.Unlock()
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := p.tr.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { p.srv.Close(); p.tr.CloseIdleConnections() })
	return p
}

func (p *forwardProxy) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[key]
}

// TestSignInThroughAccountProxy: adding an account by e-mail and password
// and signing it in again both go through the account's own proxy.
func TestSignInThroughAccountProxy(t *testing.T) {
	ctx := context.Background()
	proxy := newForwardProxy(t)
	clk := newClock()
	e := newEnv(t, Options{MinInterval: -1, Now: clk.Now})
	t.Cleanup(e.pool.clients.closeIdle)
	e.fake.AddUser("px@example.com", "pw")
	if _, err := e.pool.AddAccount(ctx, &store.Account{Email: "px@example.com", Password: "pw", Proxy: proxy.srv.URL}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := proxy.count("POST " + signinPath); n != 1 {
		t.Fatalf("sign-ins through the proxy on add: %d, want 1", n)
	}
	_, a := e.account("soon", 1000*time.Hour, "pw", func(a *store.Account) {
		a.Proxy, a.TokenExpiry = proxy.srv.URL, clk.Now().Add(time.Hour)
	})
	e.pool.maintain(ctx)
	if n := proxy.count("POST " + signinPath); n != 2 {
		t.Fatalf("sign-ins through the proxy after the refresh: %d, want 2", n)
	}
	if s := e.status(a.ID); s.CredentialID != "acct-2.2" {
		t.Errorf("not signed in again: %+v", s)
	}
	if n := e.fake.Stats().Paths[signinPath]; n != 2 {
		t.Errorf("sign-ins at the upstream: %d, want 2 (none around the proxy)", n)
	}
}

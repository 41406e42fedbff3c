package pool

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// clientCache holds one *http.Client per distinct proxy URL, each on a
// clone of the base transport.
type clientCache struct {
	base *http.Transport
	mu   sync.Mutex
	m    map[string]*http.Client
}

func newClientCache(base *http.Transport) *clientCache {
	return &clientCache{base: base, m: map[string]*http.Client{}}
}

// get returns the client for proxy; nil for "" (the provider's own client).
func (c *clientCache) get(proxy string) (*http.Client, error) {
	if proxy == "" {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc := c.m[proxy]; hc != nil {
		return hc, nil
	}
	u, err := parseProxy(proxy)
	if err != nil {
		return nil, err
	}
	var tr *http.Transport
	if c.base != nil {
		tr = c.base.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = http.ProxyURL(u)
	hc := &http.Client{Transport: tr}
	c.m[proxy] = hc
	return hc, nil
}

// closeIdle closes the idle connections of every proxy client.
func (c *clientCache) closeIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hc := range c.m {
		hc.CloseIdleConnections()
	}
}

// parseProxy accepts http://, https:// and socks5:// URLs with a host. The
// error never repeats the URL, which may carry credentials.
func parseProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy: not a URL")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy: scheme %q not supported (http, https, socks5 or socks5h)", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("proxy: no host")
	}
	return u, nil
}

package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"
)

// Defaults used when a Fetcher field is zero.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRedirects = 5
	maxURLLength        = 8 << 10
)

// Fetcher downloads client-given http(s) media URLs under an SSRF rule: only
// public unicast addresses are dialed (checked after DNS resolution, on the
// address actually dialed, again for every redirect), with a size limit
// enforced while reading, a time limit over the whole exchange and a
// content-type check. The zero value is ready to use. A Fetcher holds no
// connections between calls, so it is safe for concurrent use.
//
// Environment proxies (HTTP_PROXY) are deliberately not used: through a proxy
// the address rule would judge the proxy, not the target.
type Fetcher struct {
	// AllowPrivate lifts the address rule for loopback, private (RFC 1918,
	// fc00::/7), link-local (which includes 169.254.169.254), carrier-grade
	// NAT and reserved targets, for LAN setups
	// (QWENRELAY_ALLOW_PRIVATE_MEDIA_URLS=true). Multicast, broadcast and
	// unspecified addresses stay refused. Size, time and type rules still apply.
	AllowPrivate bool
	MaxBytes     int64         // decoded body limit; 0 means DefaultMaxBytes
	Timeout      time.Duration // whole exchange, body included; 0 means DefaultTimeout
	MaxRedirects int           // 0 means DefaultMaxRedirects; negative means none followed
	AllowedTypes []string      // patterns ("image/*", "application/pdf"); nil means DefaultAllowedTypes()
	UserAgent    string        // "" means "qwenrelay-media"

	// LookupIP resolves a host name; nil means the system resolver. Tests
	// inject a fake so no name ever reaches real DNS.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to "ip:port" after the address rule has passed; nil means
	// a net.Dialer whose Control hook checks the socket address once more.
	// Tests inject a dialer that records targets and connects to loopback.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Resolve returns the medium a client referenced: a data: URI is decoded, an
// http(s) URL is fetched. Both pass the same size and type rules.
func (f *Fetcher) Resolve(ctx context.Context, ref string) (*Media, error) {
	if len(ref) >= 5 && strings.EqualFold(ref[:5], "data:") {
		d, err := DecodeDataURI(ref, f.maxBytes())
		if err != nil {
			return nil, err
		}
		t, err := checkType(d.MediaType, "", d.Data, f.AllowedTypes)
		if err != nil {
			return nil, err
		}
		return &Media{Data: d.Data, ContentType: t, Filename: SafeFilename("", t)}, nil
	}
	return f.Fetch(ctx, ref)
}

// Fetch downloads rawURL. Every failure is an *Error.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Media, error) {
	u, err := parseMediaURL(rawURL)
	if err != nil {
		return nil, err
	}
	g := f.guard()
	if err := g.checkLiteral(u.Hostname()); err != nil {
		return nil, err
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            g.DialContext,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: f.checkRedirect(g)}
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errorf(CodeInvalidURL, err, "media URL is not valid")
	}
	req.Header.Set("User-Agent", cmpOr(f.UserAgent, "qwenrelay-media"))
	req.Header.Set("Accept", acceptHeader(f.allowed()))
	resp, err := client.Do(req)
	if err != nil {
		return nil, f.classify(ctx, fctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, errorf(CodeHTTPStatus, nil, "media URL answered HTTP %d", resp.StatusCode)
	}
	if err := f.precheckType(resp.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	data, err := f.readBody(resp)
	if err != nil {
		return nil, f.classify(ctx, fctx, err)
	}
	name := responseFilename(resp)
	t, err := checkType(resp.Header.Get("Content-Type"), name, data, f.AllowedTypes)
	if err != nil {
		return nil, err
	}
	return &Media{Data: data, ContentType: t, Filename: SafeFilename(name, t)}, nil
}

// precheckType refuses a body before reading it when its declared type is
// specific, not allowed, and not one that sniffing could change (only a
// mislabelled image is corrected, see resolveType).
func (f *Fetcher) precheckType(declared string) error {
	d := essence(declared)
	if isGeneric(d) || strings.HasPrefix(d, "image/") || typeAllowed(d, f.allowed()) {
		return nil
	}
	return errorf(CodeUnsupportedType, nil, "media type %s is not accepted here (accepted: %s)", d, strings.Join(f.allowed(), ", "))
}

func (f *Fetcher) guard() *guard {
	g := &guard{allowPrivate: f.AllowPrivate, lookup: f.LookupIP, dial: f.Dial}
	if g.lookup == nil {
		g.lookup = defaultLookup
	}
	if g.dial == nil {
		g.dial = (&net.Dialer{Control: g.control}).DialContext
	}
	return g
}

// checkLiteral refuses an IP-literal host before anything is dialed, for a
// clear error; names are judged at dial time.
func (g *guard) checkLiteral(host string) error {
	a, ok, err := hostIP(host)
	if err != nil || !ok {
		return err
	}
	return g.checkAddr(host, a)
}

func (f *Fetcher) checkRedirect(g *guard) func(*http.Request, []*http.Request) error {
	limit := f.MaxRedirects
	if limit == 0 {
		limit = DefaultMaxRedirects
	}
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > limit || limit < 0 {
			return errorf(CodeTooManyRedirects, nil, "media URL redirected more than %d times", max(limit, 0))
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return errorf(CodeInvalidURL, nil, "media URL redirected to a %q URL; only http and https are fetched", req.URL.Scheme)
		}
		if err := g.checkLiteral(req.URL.Hostname()); err != nil {
			return redirectError(err)
		}
		return nil
	}
}

func redirectError(err error) error {
	var me *Error
	if errors.As(err, &me) {
		return &Error{Code: me.Code, Message: "media URL redirected: " + me.Message, Err: me.Err}
	}
	return err
}

// readBody reads at most MaxBytes, whatever Content-Length says. With a
// Content-Length the body lands in one buffer of that size; without one it
// is read in blocks and joined once, so memory peaks near twice the body
// rather than the three times a doubling buffer reaches.
func (f *Fetcher) readBody(resp *http.Response) ([]byte, error) {
	limit := f.maxBytes()
	if resp.ContentLength > limit {
		return nil, errorf(CodeTooLarge, nil, "media URL body is %d bytes, more than the limit of %d", resp.ContentLength, limit)
	}
	body := io.LimitReader(resp.Body, limit+1)
	var (
		data []byte
		err  error
	)
	if resp.ContentLength > 0 {
		data, err = readSized(body, resp.ContentLength)
	} else {
		data, err = readBlocks(body)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errorf(CodeTooLarge, nil, "media URL body is more than the limit of %d bytes", limit)
	}
	return data, nil
}

// readSized reads a body of a declared size; the extra byte of capacity
// lets the read reach EOF (or the limit probe) without regrowing.
func readSized(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(size) + 1)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func readBlocks(r io.Reader) ([]byte, error) {
	const first, largest = 64 << 10, 4 << 20
	var blocks [][]byte
	total := 0
	for size := first; ; size = min(size*2, largest) {
		b := make([]byte, size)
		n, err := io.ReadFull(r, b)
		blocks, total = append(blocks, b[:n]), total+n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	out := make([]byte, 0, total)
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out, nil
}

// classify turns a transport error into an *Error: our own refusals pass
// through (also from inside url.Error), the caller's cancellation and our
// timeout are told apart, and anything else is a fetch failure whose message
// names no URL (the cause keeps the detail for logs, minus the URL).
func (f *Fetcher) classify(parent, fctx context.Context, err error) error {
	var me *Error
	if errors.As(err, &me) && me.Code != CodeFetchFailed {
		return me // a refusal stands even if the clock ran out meanwhile
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case parent.Err() != nil:
		return errorf(CodeCanceled, parent.Err(), "media fetch canceled: %v", parent.Err())
	case errors.Is(fctx.Err(), context.DeadlineExceeded):
		return errorf(CodeTimeout, err, "media URL was not fetched within %s", cmpOr(f.Timeout, DefaultTimeout))
	case me != nil:
		return me
	}
	return errorf(CodeFetchFailed, err, "media URL could not be fetched")
}

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return f.MaxBytes
}

func (f *Fetcher) allowed() []string {
	if f.AllowedTypes == nil {
		return DefaultAllowedTypes()
	}
	return f.AllowedTypes
}

// acceptHeader lists the allowed patterns that are valid media ranges
// ("image/*", "application/pdf"); a prefix pattern ("…officedocument.*") is
// not one, so it widens the header to */* at a low weight.
func acceptHeader(patterns []string) string {
	ranges := make([]string, 0, len(patterns)+1)
	wide := false
	for _, p := range patterns {
		if strings.HasSuffix(p, ".*") {
			wide = true
			continue
		}
		ranges = append(ranges, p)
	}
	if wide {
		ranges = append(ranges, "*/*;q=0.1")
	}
	return strings.Join(ranges, ", ")
}

func cmpOr[T time.Duration | string](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// parseMediaURL accepts an absolute http(s) URL with a host and without
// credentials (a client has no business making us send a password).
func parseMediaURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, errorf(CodeInvalidURL, nil, "media URL is longer than %d bytes", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errorf(CodeInvalidURL, nil, "media URL is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errorf(CodeInvalidURL, nil, "media URL scheme %q is not supported; use http, https or a data: URI", u.Scheme)
	case u.Hostname() == "":
		return nil, errorf(CodeInvalidURL, nil, "media URL has no host")
	case u.User != nil:
		return nil, errorf(CodeInvalidURL, nil, "media URL must not carry credentials")
	}
	return u, nil
}

// responseFilename prefers Content-Disposition, then the last path segment
// of the final URL (after redirects).
func responseFilename(resp *http.Response) string {
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
			return params["filename"]
		}
	}
	if resp.Request != nil && resp.Request.URL != nil {
		if base := path.Base(resp.Request.URL.Path); base != "/" && base != "." {
			return base
		}
	}
	return ""
}

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// model is the model id both clients ask for.
const model = "qwen3.7-plus"

// streamer sends one streamed chat request and returns the reassembled
// answer. onFirst, when not nil, is called once when the first content byte
// arrives. Both implementations share the transport settings and the SSE
// decoder, so their costs on the bench side are the same.
type streamer interface {
	stream(ctx context.Context, prompt string, onFirst func()) (string, error)
}

// errNotLoopback guards the rule that the bench never leaves the machine.
var errNotLoopback = errors.New("bench: refusing to connect to a non-loopback address")

// loopbackOnly is a net.Dialer Control function that refuses any address
// that is not a loopback IP.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errNotLoopback, address)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s", errNotLoopback, address)
	}
	return nil
}

// newTransport returns the transport every client of the bench uses. idle is
// how many idle connections per host are kept: at least the concurrency, so
// a steady run never dials again. MaxConnsPerHost stays 0 (unlimited).
func newTransport(idle int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	return &http.Transport{
		Proxy:                 nil, // never a proxy: targets are local
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   max(idle, 2),
		MaxConnsPerHost:       0,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ExpectContinueTimeout: 0,
	}
}

// newID returns a random UUID v4 string.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// prompt is the user message of one request: a little text and the
// emulator's directive.
func prompt(seed string, tokens int, delay time.Duration) string {
	return fmt.Sprintf("Benchmark request, please answer. [[qwenfake tokens=%d seed=%s delay=%s]]",
		tokens, seed, delay)
}

// post sends a JSON POST and returns the response once its status is 200.
func post(ctx context.Context, c *http.Client, url, auth string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{Status: resp.StatusCode, Body: drainSnippet(resp.Body)}
	}
	return resp, nil
}

// statusError is an answer whose HTTP status is not 200; Body holds its
// start (an OpenAI error JSON when the relay answered).
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// requireSSE fails a 200 answer that is not an event stream (the Qwen web
// API reports errors as 200 + JSON).
// postStream posts body, requires an SSE answer and reads it with read;
// op names the call in errors.
func postStream(ctx context.Context, c *http.Client, url, auth string, body []byte, op string,
	read func(io.Reader, func()) (string, error), onFirst func()) (string, error) {
	resp, err := post(ctx, c, url, auth, body, "text/event-stream")
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	defer finish(resp.Body)
	if err := requireSSE(resp); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	text, err := read(resp.Body, onFirst)
	if err != nil {
		return text, fmt.Errorf("%s: %w", op, err)
	}
	return text, nil
}

func requireSSE(resp *http.Response) error {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("not an event stream (Content-Type %q): %s", ct, drainSnippet(resp.Body))
	}
	return nil
}

// drainSnippet reads a little of body (enough for an OpenAI error JSON) for
// an error message, then closes it.
func drainSnippet(body io.ReadCloser) string {
	b, _ := io.ReadAll(io.LimitReader(body, 2048))
	_ = body.Close()
	return strings.TrimSpace(string(b))
}

// finish drains the rest of a body so its connection can be reused, then
// closes it.
func finish(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	_ = body.Close()
}

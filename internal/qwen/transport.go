package qwen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// errWatchdog is the cancellation cause set by our timers (first byte, idle
// and the whole-call limit of small JSON calls).
var errWatchdog = errors.New("qwen: upstream too slow")

// maxJSONBody bounds non-streamed answers we read (errors, models, chats/new).
const maxJSONBody = 4 << 20

// do sends one request with the protocol headers.
func (c *Client) do(ctx context.Context, cred upstream.Credential, method, path, referer, accept string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, &upstream.Error{Kind: upstream.KindBadRequest, Message: "cannot build the upstream request", Err: err}
	}
	req.Header = c.header(cred.Token, referer, accept)
	if body == nil {
		req.Header.Del("Content-Type")
	}
	hc := c.opts.HTTPClient
	if cred.HTTPClient != nil {
		hc = cred.HTTPClient // the account's own outbound proxy
	}
	return hc.Do(req)
}

// watch derives a context that our timer cancels with errWatchdog after d
// (no timer when d is 0). The timer is reset by streams on every frame.
func watch(ctx context.Context, d time.Duration) (context.Context, context.CancelCauseFunc, *time.Timer) {
	wctx, cancel := context.WithCancelCause(ctx)
	var t *time.Timer
	if d > 0 {
		t = time.AfterFunc(d, func() { cancel(errWatchdog) })
	}
	return wctx, cancel, t
}

// jsonCall performs a small JSON exchange (chats/new, models, sign-in),
// bounded as a whole by FirstByteTimeout. It returns the body of a 2xx JSON
// answer that carries no error marker, and a classified error otherwise.
func (c *Client) jsonCall(ctx context.Context, cred upstream.Credential, method, path, referer string, body []byte) ([]byte, error) {
	wctx, cancel, t := watch(ctx, c.opts.FirstByteTimeout)
	defer cancel(nil)
	if t != nil {
		defer t.Stop()
	}
	op := method + " " + strings.SplitN(path, "?", 2)[0]
	resp, err := c.do(wctx, cred, method, path, referer, "application/json, text/plain, */*", body)
	if err != nil {
		return nil, finishErr(ctx, wctx, op, err)
	}
	defer resp.Body.Close()
	rd, err := decodedBody(resp)
	if err != nil {
		return nil, finishErr(ctx, wctx, op, err)
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxJSONBody))
	if err != nil {
		return nil, finishErr(ctx, wctx, op, err)
	}
	if e := c.classifyAnswer(resp, b, true); e != nil {
		return nil, e
	}
	return b, nil
}

// openStream sends a completion and returns a stream once the upstream
// answered with an event stream. The timer armed here (FirstByteTimeout, or
// IdleTimeout when that is 0) keeps running into the stream, which resets
// it on every frame.
func (c *Client) openStream(ctx context.Context, cred upstream.Credential, path, referer string, body []byte, h frameHandler) (*stream, error) {
	first := c.opts.FirstByteTimeout
	if first == 0 {
		first = c.opts.IdleTimeout
	}
	sctx, cancel, t := watch(ctx, first)
	fail := func(err error) (*stream, error) {
		if t != nil {
			t.Stop()
		}
		cancel(nil)
		return nil, redact(err, cred.Token)
	}
	resp, err := c.do(sctx, cred, http.MethodPost, path, referer, "text/event-stream", body)
	if err != nil {
		return fail(finishErr(ctx, sctx, "completion", err))
	}
	rd, err := decodedBody(resp)
	if err != nil {
		resp.Body.Close()
		return fail(finishErr(ctx, sctx, "completion", err))
	}
	ct := mediaType(resp.Header)
	sse := ct == "text/event-stream"
	if !sse && resp.StatusCode == http.StatusOK && ct != "application/json" && ct != "text/html" {
		// Unknown or missing content type: sniff the first byte.
		br := bufio.NewReaderSize(rd, 512)
		sse = !startsLikeDocument(br)
		rd = readCloser{br, rd}
	}
	if resp.StatusCode != http.StatusOK || !sse {
		defer resp.Body.Close()
		b, rerr := io.ReadAll(io.LimitReader(rd, maxJSONBody))
		if rerr != nil && len(b) == 0 {
			return fail(finishErr(ctx, sctx, "completion", rerr))
		}
		return fail(c.classifyAnswer(resp, b, false))
	}
	return newStream(ctx, sctx, cancel, t, c.opts.IdleTimeout, rd, h, cred.Token), nil
}

// startsLikeDocument peeks past leading white space and reports whether the
// body looks like JSON or HTML rather than SSE.
func startsLikeDocument(br *bufio.Reader) bool {
	for n := 1; n <= 256; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return false
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			if err != nil {
				return false
			}
			continue
		case '{', '[', '<':
			return true
		}
		return false
	}
	return false
}

func mediaType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return strings.ToLower(strings.TrimSpace(h.Get("Content-Type")))
	}
	return mt
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

// decodedBody undoes an explicit Content-Encoding. Go's transport decodes
// gzip by itself only when it added Accept-Encoding; a browser-like header
// set or a proxy can still hand us a compressed body.
func decodedBody(resp *http.Response) (io.ReadCloser, error) {
	if resp.Uncompressed {
		return resp.Body, nil
	}
	var (
		r   io.Reader
		err error
	)
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return resp.Body, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(resp.Body)
	case "deflate":
		r, err = zlib.NewReader(resp.Body)
	default:
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Status: resp.StatusCode,
			Message: "unsupported Content-Encoding " + enc}
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, zlib.ErrHeader) {
			return nil, &upstream.Error{Kind: upstream.KindBadResponse, Status: resp.StatusCode,
				Message: "corrupt compressed body", Err: err}
		}
		return nil, err
	}
	return readCloser{r, resp.Body}, nil
}

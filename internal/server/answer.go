package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// serveAnswer is the one request path of every API surface: read the body,
// decode it with the surface's codec, resolve the model, admit the client
// key, build the upstream request (tools rendered into the prompt), run the
// relay with retries and encode the answer with the codec.
func (s *Server) serveAnswer(c api.Codec) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		body, err := readBody(w, r, s.opts.MaxRequestBytes)
		if err != nil {
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) {
				err = api.Invalid("invalid_body", "", "could not read the request body")
			}
			s.writeError(w, r, err)
			return
		}
		req, err := c.Decode(r.Context(), body, r.Header)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ri.model, ri.stream = req.Model, req.Stream
		m, err := s.catalog.Resolve(r.Context(), s.fetcher(r), req.Model)
		if err != nil {
			s.writeError(w, r, modelProblem(err))
			return
		}
		ureq := s.upstreamRequest(req, m)
		if ri.key != nil && s.opts.Keys != nil {
			release, err := s.opts.Keys.Admit(r.Context(), ri.key, ureq.Model)
			if err != nil {
				var le *keys.LimitError
				if errors.As(err, &le) {
					s.metrics.KeyLimit(le.Limit)
				}
				s.writeError(w, r, err)
				return
			}
			defer func() { release(int64(ri.usage.PromptTokens + ri.usage.CompletionTokens)) }()
		}
		if ureq.Files, err = s.resolveMedia(r.Context(), req); err != nil {
			s.writeError(w, r, err)
			return
		}
		picker := s.picker
		if ri.clientCred != nil {
			picker = relay.SinglePicker{Cred: *ri.clientCred}
		}
		t := &turn{s: s, w: w, r: r, c: c, req: req, ureq: ureq, picker: picker,
			meta: api.Meta{ID: c.NewID(), Created: s.opts.Now().Unix(), Model: req.Model}}
		if req.Stream {
			t.stream()
		} else {
			t.complete()
		}
	}
}

// turn is one answer being produced.
type turn struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	c      api.Codec
	req    *api.Request
	ureq   *upstream.ChatRequest
	picker relay.Picker
	meta   api.Meta
	usage  upstream.Usage // summed over the upstream answers of this turn
}

// addUsage accounts one upstream answer's tokens.
func (t *turn) addUsage(u upstream.Usage) {
	t.usage.PromptTokens += u.PromptTokens
	t.usage.CompletionTokens += u.CompletionTokens
	t.usage.TotalTokens += u.TotalTokens
	t.usage.ReasoningTokens += u.ReasoningTokens
	t.usage.CachedTokens += u.CachedTokens
	info(t.r.Context()).usage = t.usage
}

// finishReason is the neutral finish reason of an answer.
func finishReason(res upstream.Result, calls int) string {
	switch {
	case res.FinishReason == api.FinishContentFilter || res.FinishReason == api.FinishLength:
		return res.FinishReason
	case calls > 0:
		return api.FinishToolCalls
	}
	return api.FinishStop
}

func (t *turn) complete() {
	ri := info(t.r.Context())
	ans, err := t.s.relay.Complete(t.r.Context(), t.picker, t.ureq)
	if err != nil {
		t.s.writeError(t.w, t.r, err)
		return
	}
	t.addUsage(ans.Result.Usage)
	ri.attempts, ri.credential, ri.accountID = ans.Attempts, ans.CredentialID, ans.AccountID
	ri.ttft = ans.First.Sub(ri.start)
	t.s.metrics.TTFT(false, ri.ttft.Seconds())
	out := &api.Answer{Text: ans.Content, Reasoning: ans.Reasoning, Calls: ans.Calls, Citations: ans.Citations,
		End: api.End{FinishReason: finishReason(ans.Result, len(ans.Calls))}}
	if ans.FinishReason == api.FinishContentFilter {
		out.End.FinishReason = api.FinishContentFilter
	}
	for tries := 0; tries < t.s.opts.ToolRetries && out.End.FinishReason == api.FinishStop && mustCall(t.req); tries++ {
		// A call was required and the model answered in prose: ask once more.
		again, err := t.s.relay.Complete(t.r.Context(), t.picker, reask(t.ureq, t.req, out.Text))
		if err != nil {
			break // return what it said
		}
		t.addUsage(again.Result.Usage)
		if len(again.Calls) == 0 {
			continue
		}
		out.Text, out.Calls = again.Content, again.Calls
		out.Reasoning += again.Reasoning
		out.End.FinishReason = finishReason(again.Result, len(again.Calls))
	}
	out.End.Usage = t.usage
	t.s.metrics.StreamEnd("done")
	status, body := t.c.Answer(t.req, t.meta, out)
	writeJSONBytes(t.w, t.r, status, body)
	if f, ok := t.c.(api.Finisher); ok && status == http.StatusOK {
		f.Finished(t.req, t.meta, out)
	}
}

// readBody reads the request body under the limit, into one buffer sized
// from Content-Length when the client sent one (a body with base64 images
// is megabytes: growing by doubling would allocate it about twice over).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= limit {
		var buf bytes.Buffer
		buf.Grow(int(n) + bytes.MinRead)
		_, err := buf.ReadFrom(rd)
		return buf.Bytes(), err
	}
	return io.ReadAll(rd)
}

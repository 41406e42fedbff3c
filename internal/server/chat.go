package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/openai"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/sse"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	ri := info(r.Context())
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_body", Message: "could not read the request body"}
		}
		s.writeError(w, r, err)
		return
	}
	req, err := openai.DecodeChatRequest(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ri.model, ri.stream = req.Model, req.Stream
	ureq, err := s.upstreamRequest(r, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
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
	picker := s.picker
	if ri.clientCred != nil {
		picker = relay.SinglePicker{Cred: *ri.clientCred}
	}
	if req.Stream {
		s.streamChat(w, r, req, ureq, picker)
	} else {
		s.completeChat(w, r, req, ureq, picker)
	}
}

// upstreamRequest resolves the model and the thinking switches.
func (s *Server) upstreamRequest(r *http.Request, req *openai.ChatRequest) (*upstream.ChatRequest, error) {
	// Loading the list lets unknown names fail fast with suggestions; if the
	// upstream's list cannot be had at all, the name is passed on as is.
	_, _ = s.models.get(r.Context(), s.fetcher(r))
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	model, suffixThinking := req.Model, false
	m, found, known := s.models.lookup(req.Model)
	switch {
	case found:
		model, suffixThinking = m.upstream.ID, m.thinking
	case known:
		return nil, s.modelNotFound(req.Model)
	default:
		if base, ok := strings.CutSuffix(req.Model, thinkingSuffix); ok {
			model, suffixThinking = base, true
		}
	}
	out := &upstream.ChatRequest{Model: model, Messages: make([]upstream.Message, 0, len(req.Messages))}
	for _, msg := range req.Messages {
		role := msg.Role
		if role == "developer" {
			role = "system"
		}
		if role == "function" {
			role = "tool"
		}
		out.Messages = append(out.Messages, upstream.Message{Role: role, Content: msg.Content.String()})
	}
	out.Thinking = thinking(req, suffixThinking)
	if req.ThinkingBudget != nil && *req.ThinkingBudget > 0 {
		out.ThinkingBudget = *req.ThinkingBudget
	}
	if req.MaxCompletionTokens != nil {
		out.MaxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		out.MaxTokens = *req.MaxTokens
	}
	return out, nil
}

// thinking decides reasoning: an explicit enable_thinking wins, then
// reasoning_effort, then a thinking_budget, then the -thinking suffix; with
// none of them the upstream's default applies.
func thinking(req *openai.ChatRequest, suffix bool) *bool {
	on, off := true, false
	switch {
	case req.EnableThinking != nil:
		return req.EnableThinking
	case req.ReasoningEffort != nil:
		if e := *req.ReasoningEffort; e == "none" || e == "minimal" {
			return &off
		}
		return &on
	case req.ThinkingBudget != nil && *req.ThinkingBudget > 0, suffix:
		return &on
	}
	return nil
}

func newHeader(s *Server, model string) openai.ChunkHeader {
	return openai.ChunkHeader{ID: randomID("chatcmpl-", 24), Created: s.opts.Now().Unix(), Model: model}
}

func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, req *openai.ChatRequest, ureq *upstream.ChatRequest, picker relay.Picker) {
	ctx, ri := r.Context(), info(r.Context())
	// Until the answer has begun nothing is sent, so a failure keeps its
	// HTTP status and Retry-After (SDKs retry on those).
	st, err := s.relay.Open(ctx, picker, ureq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer st.Close()
	defer func() { // tokens spent and who served, however the answer ended
		ri.usage = st.Result().Usage
		ri.attempts, ri.credential, ri.accountID = st.Attempts, st.CredentialID, st.AccountID()
	}()
	sw := newSSEWriter(w, s.opts.HeartbeatInterval, s.opts.ClientWriteTimeout)
	defer sw.close()

	h := newHeader(s, req.Model)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	role := "assistant"
	for {
		ev, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			sw.stop()
			if upstream.KindOf(err) == upstream.KindContentFilter {
				s.metrics.StreamEnd("content_filter")
				buf = appendFrame(buf[:0], func(b []byte) []byte { return openai.AppendFinishChunk(b, &h, role, "content_filter") })
				sw.finalWrite(append(buf, sse.Done...))
				return
			}
			s.endWithError(sw, r, err)
			return
		}
		if role != "" {
			ri.ttft = s.opts.Now().Sub(ri.start)
			s.metrics.TTFT(true, ri.ttft.Seconds())
		}
		field := openai.DeltaContent
		if ev.Type == upstream.EventReasoning {
			field = openai.DeltaReasoning
		}
		buf = appendFrame(buf[:0], func(b []byte) []byte { return openai.AppendChunk(b, &h, role, field, ev.Text) })
		role = ""
		if !sw.write(buf, st.Buffered()) {
			ri.errKind = "client_gone"
			s.metrics.StreamEnd("client_gone")
			return
		}
	}
	sw.stop()
	res := st.Result()
	buf = appendFrame(buf[:0], func(b []byte) []byte { return openai.AppendFinishChunk(b, &h, role, finishReason(res)) })
	if req.IncludeUsage() {
		u := usage(res.Usage)
		buf = appendFrame(buf, func(b []byte) []byte { return openai.AppendUsageChunk(b, &h, &u) })
	}
	buf = append(buf, sse.Done...)
	*bp = buf
	if sw.finalWrite(buf) {
		s.metrics.StreamEnd("done")
	} else {
		ri.errKind = "client_gone"
		s.metrics.StreamEnd("client_gone")
	}
}

// appendFrame appends "data: <json>\n\n"; the JSON never holds a raw newline.
func appendFrame(dst []byte, body func([]byte) []byte) []byte {
	dst = append(dst, "data: "...)
	dst = body(dst)
	return append(dst, '\n', '\n')
}

// endWithError ends a committed stream with an OpenAI error event and [DONE].
func (s *Server) endWithError(sw *sseWriter, r *http.Request, err error) {
	m := mapError(err, s.opts.Passthrough)
	info(r.Context()).errKind = m.kind
	if errors.Is(context.Cause(r.Context()), ErrShuttingDown) {
		s.metrics.StreamEnd("shutdown") // the writer ends the stream itself (sseWriter.close)
		return
	}
	if m.status == StatusClientClosed {
		s.metrics.StreamEnd("client_gone")
		return
	}
	s.metrics.StreamEnd("upstream_error")
	body, _ := json.Marshal(m.body)
	frame := sse.AppendData(nil, body)
	sw.finalWrite(append(frame, sse.Done...))
}

func (s *Server) completeChat(w http.ResponseWriter, r *http.Request, req *openai.ChatRequest, ureq *upstream.ChatRequest, picker relay.Picker) {
	ri := info(r.Context())
	ans, err := s.relay.Complete(r.Context(), picker, ureq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ri.usage = ans.Result.Usage
	ri.attempts, ri.credential, ri.accountID = ans.Attempts, ans.CredentialID, ans.AccountID
	ri.ttft = ans.First.Sub(ri.start)
	s.metrics.TTFT(false, ri.ttft.Seconds())
	h := newHeader(s, req.Model)
	u := usage(ans.Result.Usage)
	s.metrics.StreamEnd("done")
	writeJSON(w, r, http.StatusOK, openai.ChatCompletion{
		ID: h.ID, Object: "chat.completion", Created: h.Created, Model: h.Model, Usage: &u,
		Choices: []openai.Choice{{Message: openai.ResponseMessage{Role: "assistant", Content: ans.Content, ReasoningContent: ans.Reasoning}, FinishReason: ans.FinishReason}},
	})
}

func finishReason(res upstream.Result) string {
	if res.FinishReason == "" {
		return "stop"
	}
	return res.FinishReason
}

func usage(u upstream.Usage) openai.Usage {
	out := openai.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	out.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: u.CachedTokens}
	out.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens}
	return out
}

package qwenfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// handleCompletion serves POST /api/v2/chat/completions?chat_id=…
//
// Order of checks, outermost first: WAF (RequireHeaders), body size (the
// captcha JSON above MaxBodyBytes), token, then the account's and the
// directive's failure, then request validation.
// admitCompletion is the start of both completion endpoints, in the
// upstream's order: required headers (v2 only), the body size rule (over
// the limit: the captcha answer), then the token. ok is false when an answer
// was already written; readErr reports a body that could not be read.
func (s *Server) admitCompletion(w http.ResponseWriter, r *http.Request, v2 bool) (body []byte, uid string, ok bool, readErr error) {
	s.stats.completions.Add(1)
	if v2 && !s.checkHeaders(w, r) {
		return nil, "", false, nil
	}
	body, readErr = s.readBody(r, s.opts.MaxBodyBytes)
	if errors.Is(readErr, errTooLarge) {
		s.stats.fail(ModeCaptcha)
		s.writePreStream(s.newOut(w, r), r, Failure{Mode: ModeCaptcha})
		return nil, "", false, nil
	}
	for n := int64(len(body)); ; {
		cur := s.stats.maxBody.Load()
		if n <= cur || s.stats.maxBody.CompareAndSwap(cur, n) {
			break
		}
	}
	uid, ok = s.authenticate(w, r)
	return body, uid, ok, readErr
}

func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request) {
	body, uid, ok, err := s.admitCompletion(w, r, true)
	if !ok {
		return
	}
	o := s.newOut(w, r)
	acct := s.stats.account(uid)
	acct.begin()
	defer acct.end()
	var req completionRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		o.json(http.StatusOK, []byte(badRequestBody))
		return
	}
	p, fail := s.plan(&req, uid)
	if preStream(fail.Mode) {
		s.stats.fail(fail.Mode)
		s.writePreStream(o, r, fail)
		return
	}
	c, status, errBody := s.checkCompletion(&req, r.URL.Query().Get("chat_id"), uid)
	if errBody != nil {
		o.json(status, errBody)
		return
	}
	if req.Stream != nil && !*req.Stream {
		if req.chatType() == "t2v" {
			s.writeVideoTask(o, &req, uid)
			return
		}
		o.json(http.StatusOK, []byte(badRequestBody))
		return
	}
	p.chatID = c.id
	p.parentID = req.last().FID
	if p.parentID == "" {
		p.parentID = newUUID()
	}
	if len(req.Messages) > 1 {
		// Several messages on v2 got empty replies (§1, 2025-10-01).
		p.tokens, p.think = 0, 0
		p.answer, p.reasoning, p.text = nil, nil, ""
	}
	if isImageChat(&req) {
		s.writeImage(o, r, p, &req, c, uid)
		return
	}
	enc := encoder(newV2Encoder(p, s.opts.Now))
	if p.dual {
		enc = newDualEncoder(p, s.opts.Now)
	}
	if s.runStream(o, r, p, enc) {
		s.chats.addTurn(c, p, req.last().text(), s.opts.Now().Unix())
	}
}

// plan decides the stream of an accepted request and its failure.
func (s *Server) plan(req *completionRequest, uid string) (*streamPlan, Failure) {
	p := &streamPlan{
		tokens:     s.opts.DefaultTokens,
		think:      s.opts.DefaultThinkTokens,
		delay:      s.opts.FrameDelay,
		split:      s.opts.SplitWrites,
		responseID: newUUID(),
		phase:      true,
	}
	last := req.last()
	text := ""
	if last != nil {
		text = last.text()
		fc := last.FeatureConfig
		p.phase = fc.OutputSchema == "phase"
		if m := s.models[req.model()]; m != nil && m.Thinking && fc.ThinkingEnabled {
			p.thinkFmt = thinkSummary
			if fc.ThinkingFormat == "detail" {
				p.thinkFmt = thinkDetail
			}
		}
	}
	p.input = inputTokens(text)
	d, hasDirective := ParseDirective(text)
	fail := s.pickFailure(uid, &d)
	if hasDirective {
		p.applyDirective(&d)
		if !preStream(fail.Mode) {
			switch d.Echo {
			case "files":
				text = s.echoFiles(req)
				d.Echo = "raw"
			case "doc", "docjson":
				text, d.Echo = s.echoDocs(req, text), map[string]string{"doc": "raw", "docjson": "json"}[d.Echo]
			}
			s.applyScript(p, &d, text)
		}
	}
	p.fail = fail
	if req.wantsSearch(s.models[req.model()]) {
		p.search = searchFrames
	}
	switch fail.Mode {
	case ModeEmpty:
		s.stats.fail(fail.Mode)
		p.answer, p.reasoning = nil, nil
		p.tokens, p.think, p.thinkFmt = 0, 0, thinkNone
	case ModeThinkOnly:
		s.stats.fail(fail.Mode)
		p.answer = nil
		p.tokens = 0
		if p.thinkFmt == thinkNone {
			p.thinkFmt = thinkSummary
		}
		if p.think == 0 {
			p.think = s.opts.DefaultThinkTokens
		}
	}
	if p.thinkFmt == thinkNone {
		p.think = 0
	}
	return p, fail
}

func (p *streamPlan) applyDirective(d *Directive) {
	p.seed = d.Seed
	p.dual = d.Dual
	if d.Tokens >= 0 {
		p.tokens = d.Tokens
	}
	if d.Think >= 0 {
		p.think = d.Think
	}
	if d.Delay >= 0 {
		p.delay = d.Delay
	}
	if d.Split >= 0 {
		p.split = d.Split
	}
}

// Upstream JSON errors of request validation (HTTP 200 unless noted).
const (
	errNoChatID     = `{"success":false,"data":{"code":"Bad_Request","details":"chat_id is required"}}`
	errNoMessages   = `{"success":false,"data":{"code":"Bad_Request","details":"messages is required"}}`
	errChatNotFound = `{"success":false,"request_id":"%s","data":{"code":"Not_Found","details":"Chat not found"}}`
	errModelTmpl    = `{"success":false,"request_id":"%s","data":{"code":"Bad_Request","details":"Model not found: %s"}}`
	// errThinkingOff answers a thinking-off request to a model with
	// think_skip disabled (§11.3; the exact wording upstream is unknown).
	errThinkingOff = `{"success":false,"request_id":"%s","data":{"code":"invalid_input","details":"Invalid input: thinking cannot be disabled for this model"}}`
)

// checkCompletion validates chat id, messages and model and returns the
// chat, or an error status and body. An unknown chat is a 404; the other
// errors are HTTP 200 like every upstream JSON error.
func (s *Server) checkCompletion(req *completionRequest, chatID, uid string) (*chat, int, []byte) {
	if chatID == "" {
		chatID = req.ChatID
	}
	if chatID == "" {
		return nil, http.StatusOK, []byte(errNoChatID)
	}
	c := s.chats.get(chatID, uid)
	if c == nil {
		return nil, http.StatusNotFound, fmt.Appendf(nil, errChatNotFound, newUUID())
	}
	if len(req.Messages) == 0 {
		return nil, http.StatusOK, []byte(errNoMessages)
	}
	m := s.models[req.model()]
	if m == nil {
		return nil, http.StatusOK, fmt.Appendf(nil, errModelTmpl, newUUID(), jsonEscape(req.model()))
	}
	if errBody := s.checkFiles(req, uid); errBody != nil {
		return nil, http.StatusOK, errBody
	}
	if m.ThinkingRequired && !req.last().FeatureConfig.ThinkingEnabled {
		s.stats.fail(ModeInvalidInput)
		return nil, http.StatusOK, fmt.Appendf(nil, errThinkingOff, newUUID())
	}
	s.chats.use(c)
	return c, 0, nil
}

func jsonEscape(s string) string { return string(appendJSONString(nil, s, false)) }

package qwenfake

import (
	"encoding/json"
	"net/http"
)

// handleLegacy serves the era-1 POST /api/chat/completions (§2): no chat
// id, any number of messages, OpenAI-like frames whose delta.content is
// cumulative (with a literal <think> block when thinking), or incremental
// with delta.phase "think"/"answer" when incremental_output is true.
// Errors of request validation are Open WebUI style 400 {"detail": …};
// failure modes behave as on v2.
func (s *Server) handleLegacy(w http.ResponseWriter, r *http.Request) {
	body, uid, ok, err := s.admitCompletion(w, r, false)
	if !ok {
		return
	}
	acct := s.stats.account(uid)
	acct.begin()
	defer acct.end()
	o := s.newOut(w, r)
	var req completionRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		o.json(http.StatusBadRequest, detailJSON("Invalid request body"))
		return
	}
	p, fail := s.plan(&req, uid)
	if preStream(fail.Mode) {
		s.stats.fail(fail.Mode)
		s.writePreStream(o, r, fail)
		return
	}
	switch {
	case len(req.Messages) == 0:
		o.json(http.StatusBadRequest, detailJSON("messages is required"))
		return
	case s.models[req.model()] == nil:
		o.json(http.StatusBadRequest, detailJSON("Model not found"))
		return
	}
	p.incremental = req.IncrementalOutput
	if req.Stream != nil && !*req.Stream {
		s.writeLegacyJSON(o, &req, p)
		return
	}
	s.runStream(o, r, p, newLegacyEncoder(p))
}

// writeLegacyJSON answers stream:false (§2.5): one chat.completion, or for
// t2i the message list whose assistant entry carries a task id.
func (s *Server) writeLegacyJSON(o *out, req *completionRequest, p *streamPlan) {
	var v any
	if req.chatType() == "t2i" {
		v = map[string]any{"id": p.responseID, "messages": []any{
			map[string]any{"role": "user", "content": req.last().text()},
			map[string]any{"role": "assistant", "content": "", "extra": map[string]any{"wanx": map[string]any{"task_id": s.newTask()}}},
		}}
	} else {
		out := p.tokens + p.think
		v = map[string]any{
			"id": p.responseID, "object": "chat.completion", "created": s.opts.Now().Unix(), "model": req.model(),
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": LegacyText(p.seed, p.think, p.tokens)}}},
			"usage": map[string]any{"prompt_tokens": p.input, "completion_tokens": out, "total_tokens": p.input + out},
		}
	}
	b, _ := json.Marshal(v)
	o.json(http.StatusOK, b)
}

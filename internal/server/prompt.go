package server

import (
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/catalog"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/toolcall/callstream"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// upstreamRequest builds what the relay sends: the conversation as text
// (tools, earlier calls and results rendered in the format the Qwen models
// were trained on), the thinking switches, and the tool-call parser as the
// stream transform when tools are declared.
func (s *Server) upstreamRequest(req *api.Request, m catalog.Model) *upstream.ChatRequest {
	out := &upstream.ChatRequest{Model: m.Upstream.ID, Messages: renderMessages(req),
		ThinkingBudget: req.ThinkingBudget, MaxTokens: req.MaxTokens, Thinking: req.Thinking,
		Search: req.Search || m.Search}
	if out.Thinking == nil && m.Thinking {
		on := true
		out.Thinking = &on
	}
	if len(req.Tools) > 0 {
		out.Transform = callstream.Transform(req.Tools, req.ToolChoice, req.Parallel)
	}
	return out
}

// renderMessages turns the neutral conversation into upstream messages.
// The tool instructions join the system prompt; an assistant turn's calls
// follow its text as <tool_call> blocks; consecutive tool results become
// one turn of <tool_response> blocks.
func renderMessages(req *api.Request) []upstream.Message {
	out := make([]upstream.Message, 0, len(req.Messages)+1)
	if len(req.Tools) > 0 {
		out = append(out, upstream.Message{Role: "system", Content: toolcall.Render(req.Tools, req.ToolChoice, req.Parallel)})
	}
	last := lastUserTurn(req.Messages)
	for i := 0; i < len(req.Messages); i++ {
		m := &req.Messages[i]
		switch {
		case len(namedMedia(m, i == last)) > 0:
			// An earlier turn's attachments are named, not uploaded again.
			var b strings.Builder
			b.WriteString(m.Text)
			for _, md := range namedMedia(m, i == last) {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(mediaNote(md))
			}
			out = append(out, upstream.Message{Role: m.Role, Content: b.String()})
		case m.Role == "tool":
			var b strings.Builder
			for ; i < len(req.Messages) && req.Messages[i].Role == "tool"; i++ {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(toolcall.RenderResult(req.Messages[i].Text))
			}
			i--
			out = append(out, upstream.Message{Role: "tool", Content: b.String()})
		case len(m.ToolCalls) > 0:
			var b strings.Builder
			b.WriteString(m.Text)
			for _, c := range m.ToolCalls {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(toolcall.RenderCall(c))
			}
			out = append(out, upstream.Message{Role: m.Role, Content: b.String()})
		default:
			out = append(out, upstream.Message{Role: m.Role, Content: m.Text})
		}
	}
	return out
}

// mustCall reports whether the client demands a tool call in the answer.
func mustCall(req *api.Request) bool {
	if len(req.Tools) == 0 {
		return false
	}
	return req.ToolChoice.Mode == toolcall.Required || req.ToolChoice.Mode == toolcall.Function
}

// reask is the request that asks once more for a required call: the same
// conversation, the model's prose answer, and a short reminder.
func reask(ureq *upstream.ChatRequest, req *api.Request, prose string) *upstream.ChatRequest {
	again := *ureq
	again.Messages = append(append(make([]upstream.Message, 0, len(ureq.Messages)+2), ureq.Messages...),
		upstream.Message{Role: "assistant", Content: prose},
		upstream.Message{Role: "user", Content: toolcall.Reminder(req.ToolChoice)})
	return &again
}

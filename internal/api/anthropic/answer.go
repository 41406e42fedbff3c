package anthropic

import (
	"encoding/json"
	"net/http"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// wireBlock is one content block of an answer.
type wireBlock struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	// web_search_tool_result: the server_tool_use it answers and its
	// web_search_result items.
	ToolUseID string            `json:"tool_use_id,omitempty"`
	Content   []webSearchResult `json:"content,omitempty"`
}

// wireMessage is a whole answer (and message_start's message).
type wireMessage struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Model        string      `json:"model"`
	Content      []wireBlock `json:"content"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        wireUsage   `json:"usage"`
}

func thinkingBlock(text string) wireBlock {
	sig := signature
	return wireBlock{Type: "thinking", Thinking: &text, Signature: &sig}
}

func textBlock(text string) wireBlock { return wireBlock{Type: "text", Text: &text} }

// Answer renders a whole answer: thinking, text, then tool_use blocks.
func (Codec) Answer(req *api.Request, meta api.Meta, ans *api.Answer) (int, []byte) {
	msg := wireMessage{ID: meta.ID, Type: "message", Role: "assistant", Model: meta.Model, Content: []wireBlock{}}
	if ans == nil {
		ans = &api.Answer{}
	}
	if ans.Reasoning != "" {
		msg.Content = append(msg.Content, thinkingBlock(ans.Reasoning))
	}
	if len(ans.Citations) > 0 {
		msg.Content = append(msg.Content, searchBlocks(req, meta, 0, ans.Citations)...)
	}
	if ans.Text != "" {
		msg.Content = append(msg.Content, textBlock(ans.Text))
	}
	for i := range ans.Calls {
		c := &ans.Calls[i]
		msg.Content = append(msg.Content, wireBlock{Type: "tool_use", ID: toolUseID(meta, c), Name: c.Name, Input: toolInput(c)})
	}
	stop := stopReason(ans.End.FinishReason)
	msg.StopReason = &stop
	msg.Usage = usageOf(&ans.End)
	return http.StatusOK, marshal(msg)
}

// wireError is Anthropic's error body (and the error event's data).
type wireError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// StatusOverloaded is Anthropic's "overloaded" status.
const StatusOverloaded = 529

// errorType maps a problem to Anthropic's status and error type (see the
// package doc).
func errorType(p *api.Problem) (int, string) {
	status := p.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	switch p.Class {
	case api.ClassAuthentication:
		return status, "authentication_error"
	case api.ClassPermission:
		return status, "permission_error"
	case api.ClassNotFound:
		return status, "not_found_error"
	case api.ClassRateLimit:
		return status, "rate_limit_error"
	case api.ClassUpstream, api.ClassTimeout:
		if status >= 500 {
			return StatusOverloaded, "overloaded_error"
		}
	}
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return status, "request_too_large"
	case status >= 500:
		return status, "api_error"
	case status == http.StatusUnauthorized:
		return status, "authentication_error"
	case status == http.StatusForbidden:
		return status, "permission_error"
	case status == http.StatusNotFound:
		return status, "not_found_error"
	case status == http.StatusTooManyRequests:
		return status, "rate_limit_error"
	}
	return status, "invalid_request_error"
}

// Error renders a problem as Anthropic's error body.
func (Codec) Error(p *api.Problem) (int, []byte) {
	if p == nil {
		p = &api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer, Message: "internal error"}
	}
	status, body := errorBody(p)
	return status, body
}

// codeContextTooLarge is the neutral code of a conversation over the
// upstream's size wall (docs/qwen-protocol.md §11.6).
const codeContextTooLarge = "context_too_large"

// promptTooLong starts the message Anthropic gives a prompt over the
// context window; Claude Code recognizes it and offers to compact.
const promptTooLong = "prompt is too long: "

func errorBody(p *api.Problem) (int, []byte) {
	status, typ := errorType(p)
	msg := p.Message
	if p.Code == codeContextTooLarge {
		// Anthropic answers a prompt over the window with 400, not 413
		// (its 413 is a body over 32 MB, which a client reports as a file
		// too large to send).
		status, typ, msg = http.StatusBadRequest, "invalid_request_error", promptTooLong+msg
	}
	var w wireError
	w.Type = "error"
	w.Error.Type = typ
	w.Error.Message = msg
	return status, marshal(w)
}

package api

import (
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// EventType tells what an Event carries.
type EventType uint8

// Event types.
const (
	// EventText is an increment of the answer text.
	EventText EventType = iota + 1
	// EventReasoning is an increment of the model's reasoning.
	EventReasoning
	// EventToolCall is one complete tool call (its arguments are valid
	// JSON, or a custom tool's raw input). Calls arrive in Index order.
	EventToolCall
	// EventCitation is one web source of a search-mode answer (each URL
	// once); encoders render them as the surface's citations.
	EventCitation
)

// Citation is one web source of an answer.
type Citation = upstream.Citation

// Event is one piece of a streamed answer.
type Event struct {
	Type     EventType
	Text     string
	Call     *toolcall.Call // EventToolCall
	Citation *Citation      // EventCitation
}

// Finish reasons, in the neutral vocabulary (each codec maps them:
// Anthropic's end_turn, tool_use, max_tokens; Responses' status).
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// End is how an answer ended.
type End struct {
	FinishReason string
	Usage        upstream.Usage
}

// Answer is a whole answer (non-streamed, or a streamed one once it ended).
type Answer struct {
	Text      string
	Reasoning string
	Calls     []toolcall.Call
	// Citations are the web sources of a search-mode answer, in order.
	Citations []Citation
	End       End
}

// Meta identifies one answer.
type Meta struct {
	ID      string // the surface's answer id (chatcmpl-…, msg_…, resp_…), made by the codec's NewID
	Created int64  // Unix seconds
	Model   string // as the client named it
}

package api

import (
	"context"
	"net/http"
)

// Codec is one API surface. Its methods are called by the server's single
// request path; none of them does I/O except through what they are given.
type Codec interface {
	// Name names the surface in logs, metrics and usage rows.
	Name() string
	// Decode parses and validates a request body; ctx is the request's
	// (for lookups such as stored responses). A failure is a *Problem
	// (usually ClassInvalidRequest with a Param).
	Decode(ctx context.Context, body []byte, header http.Header) (*Request, error)
	// NewID makes the id of a new answer (chatcmpl-…, msg_…, resp_…).
	NewID() string
	// NewStream returns the encoder of one streamed answer.
	NewStream(req *Request, meta Meta) StreamEncoder
	// Answer renders a whole answer: the HTTP status and the JSON body.
	Answer(req *Request, meta Meta, ans *Answer) (status int, body []byte)
	// Error renders a problem as this surface's error body (the server
	// sets Retry-After from the Problem). It may change the status (Anthropic
	// answers an upstream failure with 529 overloaded_error).
	Error(p *Problem) (status int, body []byte)
}

// StreamEncoder renders one streamed answer as Server-Sent Events. Every
// method appends complete SSE frames to dst and returns it.
type StreamEncoder interface {
	// Start is written once, when the answer begins (before the first
	// event): e.g. Anthropic's message_start, Responses' response.created.
	Start(dst []byte) []byte
	// Event renders one event.
	Event(dst []byte, ev *Event) []byte
	// End renders the normal end (finish reason, usage, terminator).
	End(dst []byte, end *End) []byte
	// Fail renders a failure after the answer began (and the terminator).
	Fail(dst []byte, p *Problem) []byte
	// Heartbeat renders a keep-alive while the upstream is silent.
	Heartbeat(dst []byte) []byte
}

// Finisher is implemented by codecs that act once an answer succeeded
// (e.g. the Responses API stores it for previous_response_id). It runs on
// the request's goroutine after the answer was written; it must not block
// for long.
type Finisher interface {
	Finished(req *Request, meta Meta, ans *Answer)
}

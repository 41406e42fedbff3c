// Package openai holds the OpenAI wire types the relay speaks to its clients:
// requests, chunks, completions, models and errors. No I/O happens here.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// ChatRequest is the subset of an OpenAI chat completion request the relay
// understands. Unknown fields are accepted and ignored, as OpenAI clients send
// many optional ones.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	N                   *int            `json:"n,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	// Functions and FunctionCall are the legacy form of Tools and ToolChoice.
	Functions    []FunctionDef   `json:"functions,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
	// Thinking controls, as sent by various clients.
	EnableThinking  *bool   `json:"enable_thinking,omitempty"`
	ReasoningEffort *string `json:"reasoning_effort,omitempty"`
	ThinkingBudget  *int    `json:"thinking_budget,omitempty"`
	// WebSearchOptions (any object) switches on the upstream's web search
	// mode; its fields (context size, user location) have no upstream
	// counterpart and are ignored.
	WebSearchOptions json.RawMessage `json:"web_search_options,omitempty"`
}

// StreamOptions is OpenAI's stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is either a string or an array of
// content parts; both decode into Parts/Text via UnmarshalJSON.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// FunctionCall is the legacy form of one assistant tool call.
	FunctionCall *FunctionCall `json:"function_call,omitempty"`
}

// Content is a message's content: a plain string or a list of parts.
type Content struct {
	Text  string
	Parts []ContentPart
	IsSet bool // false for null/absent content
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type     string          `json:"type"`
	Text     string          `json:"text,omitempty"`
	ImageURL json.RawMessage `json:"image_url,omitempty"`
	File     json.RawMessage `json:"file,omitempty"`
}

// UnmarshalJSON accepts a string, null, or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = Content{}
		return nil
	case len(b) > 0 && b[0] == '"':
		c.IsSet = true
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		c.IsSet = true
		return json.Unmarshal(b, &c.Parts)
	}
	// A type error, so the decoder adds where it happened (messages.content).
	return &json.UnmarshalTypeError{Value: jsonValueKind(b), Type: reflect.TypeFor[Content]()}
}

// jsonValueKind names the kind of a JSON value as encoding/json does in
// UnmarshalTypeError.Value.
func jsonValueKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	}
	return "number"
}

// MarshalJSON writes the string form when there are no parts.
func (c Content) MarshalJSON() ([]byte, error) {
	if !c.IsSet {
		return []byte("null"), nil
	}
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// RequestError is a client error found while decoding or validating.
type RequestError struct {
	Message string
	Param   string
	Code    string
}

func (e *RequestError) Error() string { return e.Message }

// DecodeChatRequest decodes and validates a chat request body.
func DecodeChatRequest(body []byte) (*ChatRequest, error) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeError(err)
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &RequestError{Message: fmt.Sprintf("We could not parse the JSON body of your request: %v at byte %d.", se, se.Offset), Code: "invalid_json"}
	case errors.As(err, &te):
		if te.Field == "" {
			return &RequestError{Message: fmt.Sprintf("The request body must be a JSON object (the chat completion request), got %s.", api.GotJSON(te.Value)), Code: "invalid_type"}
		}
		where := "'" + te.Field + "'"
		if t := te.Type; t == reflect.TypeFor[Message]() || t == reflect.TypeFor[ContentPart]() {
			where = "an element of " + where // the array was right, one element was not
		}
		return &RequestError{Message: fmt.Sprintf("Invalid type for %s: expected %s, got %s.", where, expectedJSON(te.Type), api.GotJSON(te.Value)),
			Param: te.Field, Code: "invalid_type"}
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: ") {
		msg = strings.TrimPrefix(msg, "json: ")
	}
	return &RequestError{Message: "Invalid request body: " + msg, Code: "invalid_request"}
}

// expectedJSON says in JSON terms what a field of type t holds: the
// client wrote JSON, so a message must never name Go types.
func expectedJSON(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another JSON value"
	}
	switch t {
	case reflect.TypeFor[[]Message]():
		return "an array of message objects"
	case reflect.TypeFor[Message]():
		return "a message object ({\"role\": …, \"content\": …})"
	case reflect.TypeFor[[]ContentPart]():
		return "an array of content parts"
	case reflect.TypeFor[ContentPart]():
		return "a content part object ({\"type\": \"text\", \"text\": …})"
	case reflect.TypeFor[Content]():
		return "a string, an array of content parts, or null"
	}
	return api.ExpectedJSON(t)
}

var validRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// Validate checks what the relay can and cannot serve.
func (r *ChatRequest) Validate() error {
	if strings.TrimSpace(r.Model) == "" {
		return &RequestError{Message: "you must provide a model parameter", Param: "model", Code: "missing_required_parameter"}
	}
	if len(r.Messages) == 0 {
		return &RequestError{Message: "'messages' must contain at least one message", Param: "messages", Code: "missing_required_parameter"}
	}
	if r.N != nil && *r.N != 1 {
		return &RequestError{Message: "n > 1 is not supported: the upstream produces one answer per request; send separate requests instead", Param: "n", Code: "unsupported_value"}
	}
	if err := r.validateTools(); err != nil {
		return err
	}
	for i, m := range r.Messages {
		if !validRoles[m.Role] {
			return &RequestError{Message: fmt.Sprintf("Invalid value for 'messages[%d].role': %q; supported roles are system, developer, user, assistant and tool", i, m.Role), Param: fmt.Sprintf("messages[%d].role", i), Code: "invalid_value"}
		}
		for j, p := range m.Content.Parts {
			switch p.Type {
			case "text", "input_text":
			case "image_url", "file":
				if m.Role != "user" {
					return &RequestError{Message: fmt.Sprintf("content part type %q is only accepted in user messages", p.Type), Param: fmt.Sprintf("messages[%d].content[%d].type", i, j), Code: "invalid_value"}
				}
				// The payload is read once, by Codec.Decode (messageMedia):
				// an image can be megabytes of JSON string.
			case "input_audio", "audio", "video_url", "input_image", "image", "input_file":
				return &RequestError{Message: fmt.Sprintf("content part type %q is not supported: this relay accepts text, image_url and file parts (the upstream takes no audio or video input here)", p.Type), Param: fmt.Sprintf("messages[%d].content[%d].type", i, j), Code: "unsupported_content"}
			default:
				return &RequestError{Message: fmt.Sprintf("Invalid content part type %q", p.Type), Param: fmt.Sprintf("messages[%d].content[%d].type", i, j), Code: "invalid_value"}
			}
		}
	}
	if r.ReasoningEffort != nil {
		switch *r.ReasoningEffort {
		case "none", "minimal", "low", "medium", "high", "xhigh":
		default:
			return &RequestError{Message: fmt.Sprintf("Invalid value for 'reasoning_effort': %q; use none, minimal, low, medium or high", *r.ReasoningEffort), Param: "reasoning_effort", Code: "invalid_value"}
		}
	}
	if ws := bytes.TrimSpace(r.WebSearchOptions); len(ws) > 0 && ws[0] != '{' && !bytes.Equal(ws, []byte("null")) {
		return &RequestError{Message: "Invalid type for 'web_search_options': expected an object", Param: "web_search_options", Code: "invalid_type"}
	}
	if r.ThinkingBudget != nil && *r.ThinkingBudget < 0 {
		return &RequestError{Message: "'thinking_budget' must be >= 0", Param: "thinking_budget", Code: "invalid_value"}
	}
	return nil
}

// Text returns the text of the content: the string, or the text parts joined
// by newlines.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Type != "text" && p.Type != "input_text" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

// WebSearch reports whether the client asked for web search
// (web_search_options is an object, even an empty one).
func (r *ChatRequest) WebSearch() bool {
	ws := bytes.TrimSpace(r.WebSearchOptions)
	return len(ws) > 0 && ws[0] == '{'
}

// IncludeUsage reports whether the client asked for a usage chunk.
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

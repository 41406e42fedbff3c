package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// extra is the request state the codec needs again when it renders and
// stores the answer (api.Request.Extra).
type extra struct {
	instructions *string
	store        bool
	previousID   string
	// history is the conversation without the instructions: the previous
	// response's conversation, then this request's input. It is what a
	// later previous_response_id continues.
	history         []api.Message
	tools           json.RawMessage // echoed as sent
	toolChoice      json.RawMessage // echoed as sent
	parallel        bool
	effort, summary *string
	maxOutputTokens *int
	temperature     *float64
	topP            *float64
	metadata        json.RawMessage
	text            json.RawMessage
	truncation      string
	user            *string
}

// thinkingBudgets maps reasoning.effort to the upstream's thinking switch and
// budget (0 = the model's own limit). "none" and "minimal" turn thinking off.
var thinkingBudgets = map[string]struct {
	on     bool
	budget int
}{
	"none": {false, 0}, "minimal": {false, 0},
	"low": {true, 2048}, "medium": {true, 8192}, "high": {true, 0}, "xhigh": {true, 0},
}

// Decode parses a POST /v1/responses body. previous_response_id and
// item_reference are resolved through the store.
func (c *Codec) Decode(ctx context.Context, body []byte, _ http.Header) (*api.Request, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, api.Invalid("invalid_json", "", "the request body is not valid JSON: %v", err)
	}
	if w.Model == "" {
		return nil, api.Invalid("missing_required_parameter", "model", "model is required")
	}
	if w.Background {
		return nil, api.Invalid("unsupported_parameter", "background", "background responses are not supported by this relay")
	}
	if len(w.Conversation) > 0 && string(w.Conversation) != "null" {
		return nil, api.Invalid("unsupported_parameter", "conversation", "the Conversations API is not supported by this relay; use previous_response_id")
	}
	if isAbsent(w.Input) && w.PreviousResponseID == "" {
		return nil, api.Invalid("missing_required_parameter", "input", "input is required")
	}
	ex := &extra{instructions: w.Instructions, store: w.Store == nil || *w.Store, previousID: w.PreviousResponseID,
		parallel: w.ParallelToolCalls == nil || *w.ParallelToolCalls, maxOutputTokens: w.MaxOutputTokens,
		temperature: w.Temperature, topP: w.TopP, metadata: w.Metadata, text: w.Text, user: w.User, truncation: "disabled"}
	if w.Truncation != nil && *w.Truncation != "" {
		ex.truncation = *w.Truncation
	}
	req := &api.Request{Model: w.Model, Stream: w.Stream, IncludeUsage: true, Parallel: ex.parallel, Extra: ex}
	if w.MaxOutputTokens != nil {
		if *w.MaxOutputTokens < 1 {
			return nil, api.Invalid("invalid_value", "max_output_tokens", "max_output_tokens must be a positive integer")
		}
		req.MaxTokens = *w.MaxOutputTokens
	}
	if err := decodeReasoning(w.Reasoning, req, ex); err != nil {
		return nil, err
	}
	if ex.previousID != "" {
		prev, err := c.loadConversation(ctx, ex.previousID)
		if err != nil {
			return nil, err
		}
		ex.history = prev
	}
	in := &inputDecoder{ctx: ctx, codec: c, known: callNames(ex.history)}
	msgs, extraTools, err := in.decode(w.Input)
	if err != nil {
		return nil, err
	}
	ex.history = append(ex.history, msgs...)
	if err := decodeTools(w.Tools, extraTools, req, ex); err != nil {
		return nil, err
	}
	if c.noWebSearch {
		req.Search = false
	}
	if err := decodeToolChoice(w.ToolChoice, req, ex); err != nil {
		return nil, err
	}
	if err := toolcall.Validate(req.Tools, req.ToolChoice); err != nil {
		return nil, api.ProblemOf(err, false)
	}
	if w.Instructions != nil && *w.Instructions != "" {
		req.Messages = append(req.Messages, api.Message{Role: "system", Text: *w.Instructions})
	}
	if s, err := formatInstruction(w.Text); err != nil {
		return nil, err
	} else if s != "" {
		req.Messages = append(req.Messages, api.Message{Role: "system", Text: s})
	}
	req.Messages = append(req.Messages, ex.history...)
	if len(req.Messages) == 0 {
		return nil, api.Invalid("missing_required_parameter", "input", "input holds no message")
	}
	return req, nil
}

func isAbsent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func decodeReasoning(r *wireReasoning, req *api.Request, ex *extra) error {
	if r == nil {
		return nil
	}
	ex.summary = r.Summary
	if r.Effort == nil {
		return nil
	}
	b, ok := thinkingBudgets[*r.Effort]
	if !ok {
		return api.Invalid("invalid_value", "reasoning.effort",
			"reasoning.effort must be one of none, minimal, low, medium, high, xhigh (got %q)", *r.Effort)
	}
	ex.effort = r.Effort
	req.Thinking = &b.on
	req.ThinkingBudget = b.budget
	return nil
}

// formatInstruction turns text.format json_object / json_schema into a
// system instruction. The upstream has no constrained decoding, so strict
// schemas are asked for, not enforced (documented in doc.go).
func formatInstruction(raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	var t wireText
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", api.Invalid("invalid_type", "text", "text must be an object: %v", err)
	}
	if t.Format == nil {
		return "", nil
	}
	switch t.Format.Type {
	case "", "text":
		return "", nil
	case "json_object":
		return "Respond with a single valid JSON object and nothing else.", nil
	case "json_schema":
		if isAbsent(t.Format.Schema) {
			return "", api.Invalid("missing_required_parameter", "text.format.schema", "text.format.schema is required for json_schema")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, t.Format.Schema); err != nil {
			return "", api.Invalid("invalid_type", "text.format.schema", "text.format.schema must be a JSON schema object")
		}
		return "Respond with a single valid JSON value that matches this JSON schema, and nothing else:\n" + buf.String(), nil
	}
	return "", api.Invalid("invalid_value", "text.format.type", "text.format.type must be text, json_object or json_schema (got %q)", t.Format.Type)
}

// storeTimeout bounds one store call (a lookup while decoding, within the
// request's context; a write once an answer finished).
const storeTimeout = 5 * time.Second

// storeContext bounds a store write made after the answer went out: the
// client may have left, the answer is still kept.
func storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

func itemParam(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("input[%d]", i)
	}
	return fmt.Sprintf("input[%d].%s", i, field)
}

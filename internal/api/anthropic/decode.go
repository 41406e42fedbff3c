package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// wireRequest is a Messages request with every member kept raw, so each is
// decoded (and its errors named) on its own. Members not listed here
// (temperature, top_p, top_k, stop_sequences, metadata, and whatever a new
// client version adds) are accepted and ignored.
type wireRequest struct {
	Model      json.RawMessage `json:"model"`
	MaxTokens  json.RawMessage `json:"max_tokens"`
	System     json.RawMessage `json:"system"`
	Messages   json.RawMessage `json:"messages"`
	Stream     json.RawMessage `json:"stream"`
	Tools      json.RawMessage `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
	Thinking   json.RawMessage `json:"thinking"`
	// Checked for type only.
	Metadata      json.RawMessage `json:"metadata"`
	StopSequences json.RawMessage `json:"stop_sequences"`
	Temperature   json.RawMessage `json:"temperature"`
	TopP          json.RawMessage `json:"top_p"`
	TopK          json.RawMessage `json:"top_k"`
}

// decode parses a Messages (or count_tokens) body. countOnly: the body is a
// count_tokens request, which has no max_tokens and no stream.
func decode(body []byte, countOnly bool) (*api.Request, error) {
	if !json.Valid(body) {
		return nil, syntaxProblem(body)
	}
	var w wireRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, api.Invalid("invalid_request", "", "the request body must be a JSON object (a Messages request), got %s", kindOf(body))
	}
	req := &api.Request{Parallel: true}
	if err := decodeScalars(&w, req, countOnly); err != nil {
		return nil, err
	}
	if err := decodeIgnored(&w); err != nil {
		return nil, err
	}
	system, err := decodeSystem(w.System)
	if err != nil {
		return nil, err
	}
	if system != "" {
		req.Messages = append(req.Messages, api.Message{Role: "system", Text: system})
	}
	msgs, err := decodeMessages(w.Messages)
	if err != nil {
		return nil, err
	}
	req.Messages = append(req.Messages, msgs...)
	if err := decodeThinking(w.Thinking, req); err != nil {
		return nil, err
	}
	if req.Tools, req.Search, err = decodeTools(w.Tools); err != nil {
		return nil, err
	}
	if err := decodeToolChoice(w.ToolChoice, req); err != nil {
		return nil, err
	}
	if err := toolcall.Validate(req.Tools, req.ToolChoice); err != nil {
		return nil, toolProblem(err)
	}
	return req, nil
}

// syntaxProblem says where the body stops being JSON.
func syntaxProblem(body []byte) error {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return api.Invalid("invalid_json", "", "the request body is not valid JSON: %s at byte %d", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return api.Invalid("invalid_json", "", "the request body is not valid JSON")
}

// decodeScalars reads model, max_tokens and stream.
func decodeScalars(w *wireRequest, req *api.Request, countOnly bool) error {
	if absent(w.Model) {
		return api.Invalid("missing_required_parameter", "model", "model: field required")
	}
	if err := into(w.Model, "model", &req.Model); err != nil {
		return err
	}
	if strings.TrimSpace(req.Model) == "" {
		return api.Invalid("invalid_value", "model", "model: must not be empty")
	}
	if !countOnly {
		if absent(w.MaxTokens) {
			return api.Invalid("missing_required_parameter", "max_tokens",
				"max_tokens: field required (the most tokens the answer may have, e.g. 4096)")
		}
		if err := into(w.MaxTokens, "max_tokens", &req.MaxTokens); err != nil {
			return err
		}
		if req.MaxTokens < 1 {
			return api.Invalid("invalid_value", "max_tokens", "max_tokens: must be at least 1, got %d", req.MaxTokens)
		}
		if !absent(w.Stream) {
			if err := into(w.Stream, "stream", &req.Stream); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeIgnored type-checks the members that are accepted and ignored, so a
// malformed request is still told what is wrong.
func decodeIgnored(w *wireRequest) error {
	checks := []struct {
		raw  json.RawMessage
		path string
		dst  any
	}{
		{w.Metadata, "metadata", new(map[string]any)},
		{w.StopSequences, "stop_sequences", new([]string)},
		{w.Temperature, "temperature", new(float64)},
		{w.TopP, "top_p", new(float64)},
		{w.TopK, "top_k", new(int)},
	}
	for _, c := range checks {
		if absent(c.raw) {
			continue
		}
		if err := into(c.raw, c.path, c.dst); err != nil {
			return err
		}
	}
	return nil
}

// billingHeader starts the system block Claude Code sends with a
// per-request nonce; it is dropped (see the package doc).
const billingHeader = "x-anthropic-billing-header:"

// decodeSystem reads system: a string or an array of text blocks.
func decodeSystem(raw json.RawMessage) (string, error) {
	if absent(raw) {
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		err := into(raw, "system", &s)
		return s, err
	}
	if raw[0] != '[' {
		return "", api.Invalid("invalid_type", "system", "system: expected a string or an array of text blocks, got %s", kindOf(raw))
	}
	var blocks []json.RawMessage
	if err := into(raw, "system", &blocks); err != nil {
		return "", err
	}
	var parts []string
	for i, b := range blocks {
		path := fmt.Sprintf("system[%d]", i)
		var tb struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := into(b, path, &tb); err != nil {
			return "", err
		}
		if tb.Type != "text" {
			return "", api.Invalid("invalid_value", path+".type", "%s.type: system blocks must be of type \"text\", got %q", path, tb.Type)
		}
		if strings.HasPrefix(tb.Text, billingHeader) {
			continue
		}
		parts = append(parts, tb.Text)
	}
	return strings.Join(parts, "\n"), nil
}

// decodeThinking reads thinking {type: enabled|adaptive|disabled,
// budget_tokens}.
func decodeThinking(raw json.RawMessage, req *api.Request) error {
	if absent(raw) {
		return nil
	}
	var t struct {
		Type         string          `json:"type"`
		BudgetTokens json.RawMessage `json:"budget_tokens"`
	}
	if err := into(raw, "thinking", &t); err != nil {
		return err
	}
	on := true
	switch t.Type {
	case "enabled":
		if !absent(t.BudgetTokens) {
			if err := into(t.BudgetTokens, "thinking.budget_tokens", &req.ThinkingBudget); err != nil {
				return err
			}
			if req.ThinkingBudget < 0 {
				return api.Invalid("invalid_value", "thinking.budget_tokens", "thinking.budget_tokens: must not be negative, got %d", req.ThinkingBudget)
			}
		}
	case "adaptive":
	case "disabled":
		on = false
	default:
		return api.Invalid("invalid_value", "thinking.type", "thinking.type: expected \"enabled\", \"adaptive\" or \"disabled\", got %q", t.Type)
	}
	req.Thinking = &on
	return nil
}

// toolProblem renames the neutral field names of a toolcall.Problem to the
// Messages API's (parameters → input_schema).
func toolProblem(err error) error {
	var tp *toolcall.Problem
	if !errors.As(err, &tp) {
		return err
	}
	field := strings.Replace(tp.Field, ".parameters", ".input_schema", 1)
	return api.Invalid("invalid_tools", field, "%s: %s", field, tp.Reason)
}

package responses

import "encoding/json"

// wireRequest is the part of a POST /v1/responses body the relay reads.
// Unknown fields are accepted and ignored (clients send many optional
// ones: prompt_cache_key, service_tier, client_metadata, …).
type wireRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       *string         `json:"instructions"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	Reasoning          *wireReasoning  `json:"reasoning"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	Stream             bool            `json:"stream"`
	Store              *bool           `json:"store"`
	Include            []string        `json:"include"`
	PreviousResponseID string          `json:"previous_response_id"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	Metadata           json.RawMessage `json:"metadata"`
	User               *string         `json:"user"`
	Truncation         *string         `json:"truncation"`
	Text               json.RawMessage `json:"text"`
	Background         bool            `json:"background"`
	Conversation       json.RawMessage `json:"conversation"`
}

type wireReasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// wireItem is one input item, of any type; each type reads its own fields.
type wireItem struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Input     *string         `json:"input"`
	Output    json.RawMessage `json:"output"`
	Summary   []wirePart      `json:"summary"`
	Tools     json.RawMessage `json:"tools"` // additional_tools
}

// wirePart is one content part (input_text, output_text, summary_text, …).
type wirePart struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

// wireTool is one declared tool: a function, a custom (freeform) tool, a
// namespace of tools, or a hosted tool the relay does not run.
type wireTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Format      *wireFormat     `json:"format"`
	Tools       json.RawMessage `json:"tools"` // namespace
}

// wireFormat is a custom tool's input format: text, or a grammar.
type wireFormat struct {
	Type       string `json:"type"`
	Syntax     string `json:"syntax"`
	Definition string `json:"definition"`
}

// wireTextFormat is the request's text.format.
type wireText struct {
	Format *struct {
		Type   string          `json:"type"`
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"format"`
}

// Response is the Response object, as POST returns it, response.completed
// carries it and GET returns it.
type Response struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Error              *ResponseError    `json:"error"`
	IncompleteDetails  *Incomplete       `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []any             `json:"output"`
	OutputText         string            `json:"output_text"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          ResponseReasoning `json:"reasoning"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              json.RawMessage   `json:"tools"`
	Truncation         string            `json:"truncation"`
	Usage              *Usage            `json:"usage"`
	User               *string           `json:"user"`
	Metadata           json.RawMessage   `json:"metadata"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Incomplete tells why a response is incomplete.
type Incomplete struct {
	Reason string `json:"reason"` // max_output_tokens, content_filter
}

// ResponseReasoning echoes the request's reasoning settings.
type ResponseReasoning struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// Usage is the Responses API usage object.
type Usage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

// InputTokensDetails splits the input tokens.
type InputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// OutputTokensDetails splits the output tokens.
type OutputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// Output items. Each has its own type so that empty lists ("content": [],
// "summary": []) are rendered, as clients expect them in *.added events.

// MessageItem is an assistant message.
type MessageItem struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"` // message
	Status  string       `json:"status"`
	Role    string       `json:"role"`
	Content []OutputText `json:"content"`
}

// OutputText is a message's text part.
type OutputText struct {
	Type        string `json:"type"` // output_text
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

// ReasoningItem is the model's reasoning, as a summary.
type ReasoningItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"` // reasoning
	Summary []SummaryText `json:"summary"`
}

// SummaryText is one part of a reasoning summary.
type SummaryText struct {
	Type string `json:"type"` // summary_text
	Text string `json:"text"`
}

// FunctionCallItem is a call of a function tool.
type FunctionCallItem struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // function_call
	Status    string `json:"status"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// CustomCallItem is a call of a custom (freeform) tool.
type CustomCallItem struct {
	ID     string `json:"id"`
	Type   string `json:"type"` // custom_tool_call
	Status string `json:"status"`
	CallID string `json:"call_id"`
	Name   string `json:"name"`
	Input  string `json:"input"`
}

// Deleted is the body of a successful DELETE.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

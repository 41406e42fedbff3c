package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// Tool is one entry of "tools": a function tool, or a custom (freeform)
// tool whose input is raw text.
type Tool struct {
	Type     string       `json:"type"`
	Function *FunctionDef `json:"function,omitempty"`
	Custom   *CustomDef   `json:"custom,omitempty"`
}

// FunctionDef declares a function (also the legacy "functions" entries).
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// CustomDef declares a custom tool.
type CustomDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Format      json.RawMessage `json:"format,omitempty"`
}

// ToolCall is one call in an assistant message (history and answers).
type ToolCall struct {
	Index    *int          `json:"index,omitempty"`
	ID       string        `json:"id"`
	Type     string        `json:"type"`
	Function *FunctionCall `json:"function,omitempty"`
	Custom   *CustomCall   `json:"custom,omitempty"`
}

// FunctionCall is a function call's name and arguments (JSON text).
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// CustomCall is a custom tool call's name and raw input.
type CustomCall struct {
	Name  string `json:"name"`
	Input string `json:"input"`
}

// NeutralTools returns the declared tools (tools, or the legacy functions).
func (r *ChatRequest) NeutralTools() []toolcall.Tool {
	out := make([]toolcall.Tool, 0, len(r.Tools)+len(r.Functions))
	for _, t := range r.Tools {
		switch {
		case t.Function != nil:
			out = append(out, toolcall.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
		case t.Custom != nil:
			out = append(out, toolcall.Tool{Name: t.Custom.Name, Description: t.Custom.Description, Custom: true, Format: formatText(t.Custom.Format)})
		}
	}
	for _, f := range r.Functions {
		out = append(out, toolcall.Tool{Name: f.Name, Description: f.Description, Parameters: f.Parameters})
	}
	return out
}

// formatText shows a custom tool's format (a grammar, usually) to the
// model: the definition when there is one, else the JSON as sent.
func formatText(raw json.RawMessage) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var f struct {
		Type       string `json:"type"`
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	}
	if json.Unmarshal(raw, &f) == nil && f.Definition != "" {
		return strings.TrimSpace(f.Syntax + " grammar:\n" + f.Definition)
	}
	return string(raw)
}

// NeutralChoice returns tool_choice (or the legacy function_call) and
// whether several calls may come in one answer.
func (r *ChatRequest) NeutralChoice() (toolcall.Choice, bool, error) {
	parallel := r.ParallelToolCalls == nil || *r.ParallelToolCalls
	raw, param := r.ToolChoice, "tool_choice"
	if len(raw) == 0 && len(r.FunctionCall) > 0 {
		raw, param = r.FunctionCall, "function_call"
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return toolcall.Choice{}, parallel, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return toolcall.Choice{Mode: toolcall.Auto}, parallel, nil
		case "none":
			return toolcall.Choice{Mode: toolcall.None}, parallel, nil
		case "required", "any":
			return toolcall.Choice{Mode: toolcall.Required}, parallel, nil
		}
		return toolcall.Choice{}, parallel, &RequestError{Param: param, Code: "invalid_value",
			Message: fmt.Sprintf("Invalid value for '%s': %q; use \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}", param, s)}
	}
	var obj struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
		Custom *struct {
			Name string `json:"name"`
		} `json:"custom"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return toolcall.Choice{}, parallel, &RequestError{Param: param, Code: "invalid_type",
			Message: fmt.Sprintf("Invalid type for '%s': expected a string or an object", param)}
	}
	name := obj.Name
	switch {
	case obj.Function != nil:
		name = obj.Function.Name
	case obj.Custom != nil:
		name = obj.Custom.Name
	}
	if name == "" {
		return toolcall.Choice{}, parallel, &RequestError{Param: param, Code: "missing_required_parameter",
			Message: fmt.Sprintf("'%s' names no function: expected {\"type\":\"function\",\"function\":{\"name\":…}}", param)}
	}
	return toolcall.Choice{Mode: toolcall.Function, Name: name}, parallel, nil
}

// validateTools checks the tool declarations and the calls in the history.
func (r *ChatRequest) validateTools() error {
	for i, t := range r.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		switch {
		case t.Type == "function" && t.Function != nil, t.Type == "" && t.Function != nil:
		case t.Type == "custom" && t.Custom != nil:
		case t.Type == "function" || t.Type == "custom":
			return &RequestError{Param: param + "." + t.Type, Code: "missing_required_parameter",
				Message: fmt.Sprintf("'%s' of type %q has no %q object", param, t.Type, t.Type)}
		default:
			return &RequestError{Param: param + ".type", Code: "unsupported_value",
				Message: fmt.Sprintf("tool type %q is not supported: only function and custom tools can be called through Qwen Chat", t.Type)}
		}
	}
	for i, m := range r.Messages {
		for j, c := range m.ToolCalls {
			if c.Function == nil && c.Custom == nil {
				return &RequestError{Param: fmt.Sprintf("messages[%d].tool_calls[%d].function", i, j), Code: "missing_required_parameter",
					Message: fmt.Sprintf("'messages[%d].tool_calls[%d]' has no function", i, j)}
			}
		}
	}
	_, _, err := r.NeutralChoice()
	return err
}

// neutralCalls turns an assistant message's calls into neutral ones.
func neutralCalls(m *Message) []toolcall.Call {
	var out []toolcall.Call
	for _, c := range m.ToolCalls {
		switch {
		case c.Function != nil:
			out = append(out, toolcall.Call{Index: len(out), ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		case c.Custom != nil:
			out = append(out, toolcall.Call{Index: len(out), ID: c.ID, Name: c.Custom.Name, Custom: true, Input: c.Custom.Input})
		}
	}
	if m.FunctionCall != nil {
		out = append(out, toolcall.Call{Index: len(out), Name: m.FunctionCall.Name, Arguments: m.FunctionCall.Arguments})
	}
	return out
}

package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// decodeTools reads the declared tools: function and custom tools become
// toolcall.Tools, a namespace's tools are taken as if declared at the top.
// Hosted tools (web_search, file_search, code_interpreter, local_shell,
// mcp, …) are dropped: the relay cannot run them, and agents such as
// Codex declare some of them by default, so refusing them would make the
// whole request fail; a web search tool (web_search, web_search_preview
// and their dated forms) instead switches on the upstream's own search
// mode (docs/qwen-protocol.md §6.2). extra are the tools of
// additional_tools input items.
func decodeTools(raw json.RawMessage, extra []wireTool, req *api.Request, ex *extra) error {
	ex.tools = json.RawMessage("[]")
	var top []wireTool
	if !isAbsent(raw) {
		if err := json.Unmarshal(raw, &top); err != nil {
			return api.Invalid("invalid_type", "tools", "tools must be an array of tool objects: %v", err)
		}
		ex.tools = raw
	}
	add := func(param string, t wireTool) error {
		switch t.Type {
		case "function":
			req.Tools = append(req.Tools, toolcall.Tool{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
		case "custom":
			req.Tools = append(req.Tools, toolcall.Tool{Name: t.Name, Description: t.Description, Custom: true, Format: formatText(t.Format)})
		case "":
			return api.Invalid("missing_required_parameter", param+".type", "%s.type is required", param)
		default:
			if isWebSearch(t.Type) {
				req.Search = true
			}
		}
		return nil
	}
	for i, t := range append(top, extra...) {
		param := fmt.Sprintf("tools[%d]", i)
		if t.Type != "namespace" {
			if err := add(param, t); err != nil {
				return err
			}
			continue
		}
		var inner []wireTool
		if err := json.Unmarshal(t.Tools, &inner); err != nil {
			return api.Invalid("invalid_type", param+".tools", "%s.tools must be an array of tool objects", param)
		}
		for j, it := range inner {
			if err := add(fmt.Sprintf("%s.tools[%d]", param, j), it); err != nil {
				return err
			}
		}
	}
	return nil
}

// isWebSearch reports the hosted web search tool types.
func isWebSearch(typ string) bool {
	return typ == "web_search" || typ == "web_search_preview" ||
		strings.HasPrefix(typ, "web_search_preview_") || strings.HasPrefix(typ, "web_search_2")
}

// formatText describes a custom tool's input format to the model.
func formatText(f *wireFormat) string {
	if f == nil || f.Type != "grammar" || f.Definition == "" {
		return ""
	}
	syntax := f.Syntax
	if syntax == "" {
		syntax = "grammar"
	}
	return "The input must match this " + syntax + " grammar:\n" + f.Definition
}

// decodeToolChoice reads tool_choice: "auto", "none", "required",
// {"type":"function"|"custom","name":…}, {"type":"allowed_tools","mode":…}
// (its mode is honoured, its list is not) or a hosted tool (treated as auto).
func decodeToolChoice(raw json.RawMessage, req *api.Request, ex *extra) error {
	ex.toolChoice = json.RawMessage(`"auto"`)
	if isAbsent(raw) {
		return nil
	}
	ex.toolChoice = raw
	var s string
	if json.Unmarshal(raw, &s) == nil {
		m, ok := modeOf(s)
		if !ok {
			return api.Invalid("invalid_value", "tool_choice", "tool_choice must be auto, none, required or an object (got %q)", s)
		}
		req.ToolChoice = toolcall.Choice{Mode: m}
		return nil
	}
	var o struct {
		Type string `json:"type"`
		Name string `json:"name"`
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return api.Invalid("invalid_type", "tool_choice", "tool_choice must be a string or an object")
	}
	switch o.Type {
	case "function", "custom":
		if o.Name == "" {
			return api.Invalid("missing_required_parameter", "tool_choice.name", "tool_choice.name is required")
		}
		req.ToolChoice = toolcall.Choice{Mode: toolcall.Function, Name: o.Name}
	case "allowed_tools":
		m, ok := modeOf(o.Mode)
		if !ok || m == toolcall.None {
			return api.Invalid("invalid_value", "tool_choice.mode", "tool_choice.mode must be auto or required")
		}
		req.ToolChoice = toolcall.Choice{Mode: m}
	case "":
		return api.Invalid("missing_required_parameter", "tool_choice.type", "tool_choice.type is required")
	default: // a hosted tool: the relay does not run it
		req.ToolChoice = toolcall.Choice{Mode: toolcall.Auto}
	}
	return nil
}

func modeOf(s string) (toolcall.Mode, bool) {
	switch strings.TrimSpace(s) {
	case "auto":
		return toolcall.Auto, true
	case "none":
		return toolcall.None, true
	case "required":
		return toolcall.Required, true
	}
	return 0, false
}

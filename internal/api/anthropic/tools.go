package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// bashSchema is the input of Anthropic's client-run bash tool (bash_*).
const bashSchema = `{"type":"object","properties":{` +
	`"command":{"type":"string","description":"The bash command to run."},` +
	`"restart":{"type":"boolean","description":"Set to true to restart the bash session instead of running a command."}}}`

// editorSchema is the input of Anthropic's client-run text editor tool
// (text_editor_*).
const editorSchema = `{"type":"object","properties":{` +
	`"command":{"type":"string","enum":["view","create","str_replace","insert","undo_edit"],"description":"The operation."},` +
	`"path":{"type":"string","description":"Absolute path of the file or directory."},` +
	`"file_text":{"type":"string","description":"create: the content of the new file."},` +
	`"old_str":{"type":"string","description":"str_replace: the exact text to replace (must match once)."},` +
	`"new_str":{"type":"string","description":"str_replace: the replacement text; insert: the text to insert."},` +
	`"insert_text":{"type":"string","description":"insert: the text to insert (newer tool versions)."},` +
	`"insert_line":{"type":"integer","description":"insert: the line after which to insert (0 for the top)."},` +
	`"view_range":{"type":"array","items":{"type":"integer"},"description":"view: [first, last] line, last -1 for the end."}},` +
	`"required":["command","path"]}`

// clientTool returns the default description and fixed schema of an
// Anthropic-defined tool the client runs (its type is versioned, e.g.
// bash_20250124); ok is false for any other type.
func clientTool(typ string) (desc, schema string, ok bool) {
	switch {
	case strings.HasPrefix(typ, "bash_"):
		return "Run a command in a persistent bash shell.", bashSchema, true
	case strings.HasPrefix(typ, "text_editor_"):
		return "View, create and edit text files.", editorSchema, true
	}
	return "", "", false
}

// wireTool is one entry of tools.
type wireTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// decodeTools reads tools (see the package doc for which kinds are
// served). A web_search_* server tool is not a tool the model calls: it
// switches on the upstream's own search mode (search true;
// docs/qwen-protocol.md §6.2).
func decodeTools(raw json.RawMessage) (tools []toolcall.Tool, search bool, err error) {
	if absent(raw) {
		return nil, false, nil
	}
	var list []json.RawMessage
	if err := into(raw, "tools", &list); err != nil {
		return nil, false, err
	}
	tools = make([]toolcall.Tool, 0, len(list))
	for i, r := range list {
		path := fmt.Sprintf("tools[%d]", i)
		var head struct {
			Type string `json:"type"`
		}
		if err := into(r, path, &head); err != nil {
			return nil, false, err
		}
		if strings.HasPrefix(head.Type, "web_search_") {
			search = true
			continue
		}
		t, err := decodeTool(r, path)
		if err != nil {
			return nil, false, err
		}
		tools = append(tools, t)
	}
	return tools, search, nil
}

func decodeTool(raw json.RawMessage, path string) (toolcall.Tool, error) {
	var w wireTool
	if err := into(raw, path, &w); err != nil {
		return toolcall.Tool{}, err
	}
	if w.Type == "" || w.Type == "custom" {
		if absent(w.InputSchema) {
			return toolcall.Tool{}, api.Invalid("missing_required_parameter", path+".input_schema", "%s.input_schema: field required", path)
		}
		if s := bytes.TrimSpace(w.InputSchema); s[0] != '{' {
			return toolcall.Tool{}, api.Invalid("invalid_type", path+".input_schema", "%s.input_schema: expected a JSON schema object, got %s", path, kindOf(s))
		}
		return toolcall.Tool{Name: w.Name, Description: w.Description, Parameters: w.InputSchema}, nil
	}
	if desc, schema, ok := clientTool(w.Type); ok {
		if w.Description != "" {
			desc = w.Description
		}
		return toolcall.Tool{Name: w.Name, Description: desc, Parameters: json.RawMessage(schema)}, nil
	}
	return toolcall.Tool{}, api.Invalid("unsupported_tool", path+".type",
		"%s.type: %q is a server tool that Anthropic runs itself; qwenrelay cannot run it. Remove it, or declare a tool with an input_schema that your client executes", path, w.Type)
}

// decodeToolChoice reads tool_choice {type: auto|any|tool|none, name,
// disable_parallel_tool_use}.
func decodeToolChoice(raw json.RawMessage, req *api.Request) error {
	if absent(raw) {
		return nil
	}
	var c struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	if err := into(raw, "tool_choice", &c); err != nil {
		return err
	}
	switch c.Type {
	case "auto":
		req.ToolChoice = toolcall.Choice{Mode: toolcall.Auto}
	case "any":
		req.ToolChoice = toolcall.Choice{Mode: toolcall.Required}
	case "none":
		req.ToolChoice = toolcall.Choice{Mode: toolcall.None}
	case "tool":
		if c.Name == "" {
			return api.Invalid("missing_required_parameter", "tool_choice.name", "tool_choice.name: field required when tool_choice.type is \"tool\"")
		}
		req.ToolChoice = toolcall.Choice{Mode: toolcall.Function, Name: c.Name}
	default:
		return api.Invalid("invalid_value", "tool_choice.type", "tool_choice.type: expected \"auto\", \"any\", \"tool\" or \"none\", got %q", c.Type)
	}
	req.Parallel = !c.DisableParallelToolUse
	return nil
}

package responses

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// ignoredItems are input item types that are accepted and dropped: records
// of hosted tools the relay does not run, and opaque state of other servers
// (compaction summaries are encrypted for OpenAI's servers only).
var ignoredItems = map[string]bool{
	"web_search_call": true, "file_search_call": true, "computer_call": true, "computer_call_output": true,
	"code_interpreter_call": true, "image_generation_call": true, "local_shell_call": true,
	"local_shell_call_output": true, "mcp_list_tools": true, "mcp_approval_request": true,
	"mcp_approval_response": true, "mcp_call": true, "compaction": true, "compaction_summary": true,
	"ghost_snapshot": true, "tool_search_call": true, "tool_search_output": true,
}

// inputDecoder turns input items into neutral messages.
type inputDecoder struct {
	ctx   context.Context // the request's, for item_reference lookups
	codec *Codec
	known map[string]string // call_id -> tool name, for tool results
	msgs  []api.Message
	// reasoning replayed before an assistant turn, kept for that turn.
	reasoning string
	tools     []wireTool // from additional_tools items
}

// decode reads input: a string (one user message) or an array of items.
func (d *inputDecoder) decode(raw json.RawMessage) ([]api.Message, []wireTool, error) {
	if isAbsent(raw) {
		return nil, nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []api.Message{{Role: "user", Text: s}}, nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, nil, api.Invalid("invalid_type", "input", "input must be a string or an array of items")
	}
	for i, rawItem := range items {
		var it wireItem
		if err := json.Unmarshal(rawItem, &it); err != nil {
			return nil, nil, api.Invalid("invalid_type", itemParam(i, ""), "%s is not a valid input item: %v", itemParam(i, ""), err)
		}
		if err := d.item(i, &it); err != nil {
			return nil, nil, err
		}
	}
	return d.msgs, d.tools, nil
}

// item adds one input item.
func (d *inputDecoder) item(i int, it *wireItem) error {
	switch it.Type {
	case "message", "":
		if it.Type == "" && it.Role == "" {
			return api.Invalid("missing_required_parameter", itemParam(i, "type"), "%s.type is required", itemParam(i, ""))
		}
		return d.message(i, it)
	case "function_call", "custom_tool_call":
		return d.call(i, it)
	case "function_call_output", "custom_tool_call_output":
		return d.result(i, it)
	case "reasoning":
		d.addReasoning(it)
		return nil
	case "item_reference":
		ref, err := d.codec.resolveItem(d.ctx, i, it.ID)
		if err != nil {
			return err
		}
		return d.item(i, ref)
	case "additional_tools":
		var tools []wireTool
		if !isAbsent(it.Tools) {
			if err := json.Unmarshal(it.Tools, &tools); err != nil {
				return api.Invalid("invalid_type", itemParam(i, "tools"), "%s must be an array of tools", itemParam(i, "tools"))
			}
		}
		d.tools = append(d.tools, tools...)
		return nil
	}
	if ignoredItems[it.Type] {
		return nil
	}
	return api.Invalid("invalid_value", itemParam(i, "type"), "input item type %q is not supported", it.Type)
}

func (d *inputDecoder) message(i int, it *wireItem) error {
	role := it.Role
	switch role {
	case "user", "assistant":
	case "system", "developer":
		role = "system"
	default:
		return api.Invalid("invalid_value", itemParam(i, "role"), "role must be user, assistant, system or developer (got %q)", it.Role)
	}
	text, err := contentText(it.Content, itemParam(i, "content"))
	if err != nil {
		return err
	}
	media, err := contentMedia(it.Content, itemParam(i, "content"))
	if err != nil {
		return err
	}
	if len(media) > 0 && role != "user" {
		return api.Invalid("invalid_value", itemParam(i, "content"), "images and files are only accepted in user messages")
	}
	m := api.Message{Role: role, Text: text, Media: media}
	if role == "assistant" {
		m.Reasoning, d.reasoning = d.reasoning, ""
	}
	d.msgs = append(d.msgs, m)
	return nil
}

// call adds a function or custom tool call to the assistant turn it belongs
// to: the last message when that is an assistant's, else a new one.
func (d *inputDecoder) call(i int, it *wireItem) error {
	if it.CallID == "" {
		return api.Invalid("missing_required_parameter", itemParam(i, "call_id"), "%s.call_id is required", itemParam(i, ""))
	}
	if it.Name == "" {
		return api.Invalid("missing_required_parameter", itemParam(i, "name"), "%s.name is required", itemParam(i, ""))
	}
	c := toolcall.Call{ID: it.CallID, Name: it.Name}
	if it.Type == "custom_tool_call" {
		c.Custom = true
		if it.Input != nil {
			c.Input = *it.Input
		}
	} else {
		c.Arguments = argumentsText(it.Arguments)
	}
	n := len(d.msgs)
	if n == 0 || d.msgs[n-1].Role != "assistant" {
		d.msgs = append(d.msgs, api.Message{Role: "assistant"})
		n++
	}
	last := &d.msgs[n-1]
	if d.reasoning != "" && last.Reasoning == "" {
		last.Reasoning, d.reasoning = d.reasoning, ""
	}
	c.Index = len(last.ToolCalls)
	last.ToolCalls = append(last.ToolCalls, c)
	if d.known == nil {
		d.known = map[string]string{}
	}
	d.known[c.ID] = c.Name
	return nil
}

// argumentsText reads function_call.arguments: a JSON string (as the API
// defines it) or, tolerated, the object itself.
func argumentsText(raw json.RawMessage) string {
	if isAbsent(raw) {
		return "{}"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (d *inputDecoder) result(i int, it *wireItem) error {
	if it.CallID == "" {
		return api.Invalid("missing_required_parameter", itemParam(i, "call_id"), "%s.call_id is required", itemParam(i, ""))
	}
	text, err := contentText(it.Output, itemParam(i, "output"))
	if err == nil {
		var media []api.Media
		if media, err = contentMedia(it.Output, itemParam(i, "output")); len(media) > 0 {
			// A tool's image or file output is named, not uploaded.
			text += fmt.Sprintf("\n[%d attachment(s) of the tool output omitted]", len(media))
		}
	}
	if err != nil {
		return err
	}
	d.msgs = append(d.msgs, api.Message{Role: "tool", Text: text, ToolCallID: it.CallID, ToolName: d.known[it.CallID]})
	return nil
}

// addReasoning keeps a replayed reasoning item's summary (its encrypted
// content is another server's and is dropped) for the next assistant turn.
func (d *inputDecoder) addReasoning(it *wireItem) {
	var parts []string
	for _, p := range it.Summary {
		if p.Text != "" {
			parts = append(parts, p.Text)
		}
	}
	if len(parts) == 0 {
		return
	}
	if d.reasoning != "" {
		d.reasoning += "\n\n"
	}
	d.reasoning += strings.Join(parts, "\n\n")
}

// contentText reads a message content or a tool output: a string or an
// array of parts whose text is kept (images and files: contentMedia).
func contentText(raw json.RawMessage, param string) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", api.Invalid("invalid_type", param, "%s must be a string or an array of content parts", param)
	}
	var b strings.Builder
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text", "reasoning_text", "summary_text":
			b.WriteString(p.Text)
		case "refusal":
			b.WriteString(p.Refusal)
		case "input_image", "input_file", "input_audio":
			// Read by contentMedia; they add no text.
		default:
			return "", api.Invalid("invalid_value", param, "%s[%d]: unknown content part type %q", param, j, p.Type)
		}
	}
	return b.String(), nil
}

// callNames maps the call ids of a conversation to their tool names.
func callNames(msgs []api.Message) map[string]string {
	m := map[string]string{}
	for _, msg := range msgs {
		for _, c := range msg.ToolCalls {
			m[c.ID] = c.Name
		}
	}
	return m
}

package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// mediaOmitted replaces an image or document a tool returned (see the
// package doc).
const mediaOmitted = "[%s omitted: images and files are not supported yet]"

// toolError marks the text of a tool_result with is_error set.
const toolError = "[tool error] "

// decodeMessages reads messages: an array of {role, content}.
func decodeMessages(raw json.RawMessage) ([]api.Message, error) {
	if absent(raw) {
		return nil, api.Invalid("missing_required_parameter", "messages", "messages: field required")
	}
	var list []json.RawMessage
	if err := into(raw, "messages", &list); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, api.Invalid("invalid_value", "messages", "messages: must contain at least one message")
	}
	d := &msgDecoder{names: make(map[string]string)}
	for i, m := range list {
		if err := d.message(m, i); err != nil {
			return nil, err
		}
	}
	return d.out, nil
}

// msgDecoder turns wire messages into neutral ones.
type msgDecoder struct {
	out []api.Message
	// names maps a tool_use id to its tool name, so a result can name it.
	names map[string]string
}

func (d *msgDecoder) message(raw json.RawMessage, i int) error {
	path := fmt.Sprintf("messages[%d]", i)
	var m struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := into(raw, path, &m); err != nil {
		return err
	}
	switch m.Role {
	case "user", "assistant":
	case "system":
		return api.Invalid("invalid_value", path+".role", "%s.role: \"system\" is not a message role in the Messages API; put the system prompt in the top-level \"system\" member", path)
	default:
		return api.Invalid("invalid_value", path+".role", "%s.role: expected \"user\" or \"assistant\", got %q", path, m.Role)
	}
	cpath := path + ".content"
	if absent(m.Content) {
		return api.Invalid("missing_required_parameter", cpath, "%s: field required", cpath)
	}
	content := bytes.TrimSpace(m.Content)
	if content[0] == '"' {
		var s string
		if err := into(content, cpath, &s); err != nil {
			return err
		}
		d.out = append(d.out, api.Message{Role: m.Role, Text: s})
		return nil
	}
	if content[0] != '[' {
		return api.Invalid("invalid_type", cpath, "%s: expected a string or an array of content blocks, got %s", cpath, kindOf(content))
	}
	var blocks []json.RawMessage
	if err := into(content, cpath, &blocks); err != nil {
		return err
	}
	if m.Role == "assistant" {
		return d.assistant(blocks, cpath)
	}
	return d.user(blocks, cpath)
}

// blockType reads a content block's type.
func blockType(raw json.RawMessage, path string) (string, error) {
	var b struct {
		Type string `json:"type"`
	}
	if err := into(raw, path, &b); err != nil {
		return "", err
	}
	if b.Type == "" {
		return "", api.Invalid("missing_required_parameter", path+".type", "%s.type: field required", path)
	}
	return b.Type, nil
}

// textOf decodes a text block.
func textOf(raw json.RawMessage, path string) (string, error) {
	var b struct {
		Text string `json:"text"`
	}
	err := into(raw, path, &b)
	return b.Text, err
}

func unsupportedMedia(path, typ string) error {
	return api.Invalid("unsupported_content", path+".type",
		"%s: %s blocks are only accepted in user turns", path, typ)
}

// assistant reads an assistant turn: text, tool_use and thinking blocks.
func (d *msgDecoder) assistant(blocks []json.RawMessage, cpath string) error {
	msg := api.Message{Role: "assistant"}
	var text, reasoning []string
	for j, raw := range blocks {
		path := fmt.Sprintf("%s[%d]", cpath, j)
		typ, err := blockType(raw, path)
		if err != nil {
			return err
		}
		switch typ {
		case "text":
			s, err := textOf(raw, path)
			if err != nil {
				return err
			}
			text = append(text, s)
		case "tool_use":
			call, err := d.toolUse(raw, path, len(msg.ToolCalls))
			if err != nil {
				return err
			}
			msg.ToolCalls = append(msg.ToolCalls, call)
		case "thinking":
			// Replayed by Claude Code; never fails the request.
			var b struct {
				Thinking string `json:"thinking"`
			}
			if json.Unmarshal(raw, &b) == nil && b.Thinking != "" {
				reasoning = append(reasoning, b.Thinking)
			}
		case "redacted_thinking":
		case "image", "document":
			return unsupportedMedia(path, typ)
		default:
			if serverToolBlock(typ) {
				continue // history of a server tool Anthropic ran; nothing to replay here
			}
			return api.Invalid("invalid_value", path+".type", "%s.type: %q blocks are not supported in an assistant turn (expected text, tool_use or thinking)", path, typ)
		}
	}
	msg.Text = strings.Join(text, "\n")
	msg.Reasoning = strings.Join(reasoning, "\n")
	d.out = append(d.out, msg)
	return nil
}

// serverToolBlock tells the blocks a server tool leaves in an assistant
// turn (server_tool_use, mcp_tool_use, web_search_tool_result, …): a
// conversation begun against Anthropic may carry them; they are dropped.
func serverToolBlock(typ string) bool {
	return typ == "server_tool_use" || typ == "mcp_tool_use" || strings.HasSuffix(typ, "_tool_result")
}

// toolUse reads a tool_use block into a call; its input object becomes the
// arguments JSON text.
func (d *msgDecoder) toolUse(raw json.RawMessage, path string, index int) (toolcall.Call, error) {
	var b struct {
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	if err := into(raw, path, &b); err != nil {
		return toolcall.Call{}, err
	}
	if b.Name == "" {
		return toolcall.Call{}, api.Invalid("missing_required_parameter", path+".name", "%s.name: field required", path)
	}
	args := "{}"
	if !absent(b.Input) {
		var buf bytes.Buffer
		in := bytes.TrimSpace(b.Input)
		if in[0] != '{' || json.Compact(&buf, in) != nil {
			return toolcall.Call{}, api.Invalid("invalid_type", path+".input", "%s.input: expected an object, got %s", path, kindOf(in))
		}
		args = buf.String()
	}
	if b.ID != "" {
		d.names[b.ID] = b.Name
	}
	return toolcall.Call{Index: index, ID: b.ID, Name: b.Name, Arguments: args}, nil
}

// user reads a user turn: tool_result blocks become tool messages (in
// block order), the text blocks one user message after them.
func (d *msgDecoder) user(blocks []json.RawMessage, cpath string) error {
	var text []string
	var media []api.Media
	for j, raw := range blocks {
		path := fmt.Sprintf("%s[%d]", cpath, j)
		typ, err := blockType(raw, path)
		if err != nil {
			return err
		}
		switch typ {
		case "text":
			s, err := textOf(raw, path)
			if err != nil {
				return err
			}
			text = append(text, s)
		case "tool_result":
			msg, err := d.toolResult(raw, path)
			if err != nil {
				return err
			}
			d.out = append(d.out, msg)
		case "thinking", "redacted_thinking":
			// Misplaced, but replayed history never fails a request.
		case "image", "document":
			m, err := mediaBlock(raw, path, typ)
			if err != nil {
				return err
			}
			media = append(media, m)
		default:
			return api.Invalid("invalid_value", path+".type", "%s.type: %q blocks are not supported in a user turn (expected text or tool_result)", path, typ)
		}
	}
	if len(text) > 0 || len(media) > 0 {
		d.out = append(d.out, api.Message{Role: "user", Text: strings.Join(text, "\n"), Media: media})
	}
	return nil
}

// toolResult reads a tool_result block: content is a string or an array
// of text (and image) blocks.
func (d *msgDecoder) toolResult(raw json.RawMessage, path string) (api.Message, error) {
	var b struct {
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
	}
	if err := into(raw, path, &b); err != nil {
		return api.Message{}, err
	}
	if b.ToolUseID == "" {
		return api.Message{}, api.Invalid("missing_required_parameter", path+".tool_use_id", "%s.tool_use_id: field required", path)
	}
	text, err := resultText(b.Content, path+".content")
	if err != nil {
		return api.Message{}, err
	}
	if b.IsError {
		text = toolError + text
	}
	return api.Message{Role: "tool", ToolCallID: b.ToolUseID, ToolName: d.names[b.ToolUseID], Text: text}, nil
}

// resultText flattens a tool_result's content.
func resultText(raw json.RawMessage, path string) (string, error) {
	if absent(raw) {
		return "", nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		err := into(raw, path, &s)
		return s, err
	}
	if raw[0] != '[' {
		return "", api.Invalid("invalid_type", path, "%s: expected a string or an array of content blocks, got %s", path, kindOf(raw))
	}
	var blocks []json.RawMessage
	if err := into(raw, path, &blocks); err != nil {
		return "", err
	}
	var parts []string
	for k, b := range blocks {
		bpath := fmt.Sprintf("%s[%d]", path, k)
		typ, err := blockType(b, bpath)
		if err != nil {
			return "", err
		}
		switch typ {
		case "text":
			s, err := textOf(b, bpath)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		case "image", "document":
			parts = append(parts, fmt.Sprintf(mediaOmitted, typ))
		default:
			return "", api.Invalid("invalid_value", bpath+".type", "%s.type: %q blocks are not supported in a tool result (expected text)", bpath, typ)
		}
	}
	return strings.Join(parts, "\n"), nil
}

package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// emptySchema stands in for a function without parameters.
const emptySchema = `{"type":"object","properties":{}}`

// customSchema is how a custom (freeform) tool is offered: one string
// parameter "input" that carries the raw text.
const customSchema = `{"type":"object","properties":{"input":{"type":"string",` +
	`"description":"The complete raw text input for this tool."}},"required":["input"]}`

// Render returns the system-prompt text that offers the tools to the model in
// the Hermes style the Qwen models were trained on (docs/qwen-protocol.md
// §11): one JSON signature per line inside <tools></tools>, and how to call:
// a <tool_call> block holding {"name": …, "arguments": {…}}. The rules that
// follow say when to call (choice) and how many calls at once (parallel).
// With Mode None no tool is offered; with Mode Function only that one is.
// It returns "" when there is nothing to say.
func Render(tools []Tool, choice Choice, parallel bool) string {
	if len(tools) == 0 {
		return ""
	}
	if choice.Mode == None {
		return "# Tools\n\nNo tools are available for this reply. Answer in plain text and do not write " +
			"<tool_call> blocks, even if earlier turns contain some.\n"
	}
	var b strings.Builder
	b.WriteString("# Tools\n\nYou may call one or more functions to help with the user's request.\n\n")
	b.WriteString("The function signatures are listed within <tools></tools> XML tags:\n<tools>\n")
	custom := false
	for _, t := range tools {
		if choice.Mode == Function && t.Name != choice.Name {
			continue
		}
		custom = custom || t.Custom
		b.WriteString(signature(t))
		b.WriteByte('\n')
	}
	b.WriteString("</tools>\n\n")
	b.WriteString("To call a function, write a JSON object with the function name and its arguments " +
		"within <tool_call></tool_call> XML tags:\n" +
		"<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>\n\n")
	b.WriteString("Rules:\n")
	switch choice.Mode {
	case Required:
		b.WriteString("- In this reply you must call at least one of the functions.\n")
	case Function:
		b.WriteString("- In this reply you must call the function " + quote(choice.Name) + ".\n")
	default:
		b.WriteString("- Call a function when it helps with the request; otherwise reply in plain text.\n")
	}
	if parallel {
		b.WriteString("- You may make several calls in one reply, one <tool_call> block per call.\n")
	} else {
		b.WriteString("- Make at most one call per reply, then wait for its result.\n")
	}
	if custom {
		b.WriteString("- A function described as taking free-form text gets that text raw, complete and unchanged, " +
			"with no JSON escaping, in this form instead:\n" + xmlInput("<function-name>", "<the text>") + "\n")
	}
	b.WriteString("- Write the calls in your reply, not in your thinking. Never describe a call in words " +
		"instead of making it, and never invent its result: after your calls, stop. Results come back " +
		"inside <tool_response></tool_response> tags.\n")
	return b.String()
}

// signature is one tool's line inside <tools>.
func signature(t Tool) string {
	type function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	f := function{Name: t.Name, Description: t.Description, Parameters: t.Parameters}
	if t.Custom {
		f.Parameters = json.RawMessage(customSchema)
		f.Description = strings.TrimSpace(f.Description + "\n\nThis function takes free-form text input, " +
			"not JSON arguments (see the rules below).")
		if t.Format != "" {
			f.Description += "\nInput format:\n" + t.Format
		}
	}
	if len(bytes.TrimSpace(f.Parameters)) == 0 || !json.Valid(f.Parameters) {
		f.Parameters = json.RawMessage(emptySchema)
	}
	f.Parameters = dropSchemaKey(f.Parameters)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Type     string   `json:"type"`
		Function function `json:"function"`
	}{"function", f}); err != nil {
		return `{"type":"function","function":{"name":` + quote(t.Name) + `,"parameters":` + emptySchema + `}}`
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// dropSchemaKey removes a top-level "$schema" member (Claude Code sends one
// per tool): it tells the model nothing and costs bytes under the upstream's
// request size wall (docs/qwen-protocol.md §11, row 6).
func dropSchemaKey(schema json.RawMessage) json.RawMessage {
	if !bytes.Contains(schema, []byte(`"$schema"`)) {
		return schema
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(schema, &obj) != nil || obj == nil {
		return schema
	}
	delete(obj, "$schema")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(obj) != nil {
		return schema
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// RenderCall renders an earlier assistant call for the conversation history,
// in the trained form:
//
//	<tool_call>
//	{"name": "get_weather", "arguments": {"city": "Paris"}}
//	</tool_call>
//
// Arguments that are not a JSON object (a client may send anything) are kept
// as a JSON string, so the history never shows the model broken JSON. A
// custom tool's call is written the way Render asks for it: its Input raw in
// the XML parameter form.
func RenderCall(c Call) string {
	if c.Custom {
		return xmlInput(c.Name, c.Input)
	}
	return openTag + "\n{\"name\": " + quote(c.Name) + ", \"arguments\": " + callArgs(c) + "}\n" + closeTag
}

// xmlInput is a custom tool's call in the Qwen3-Coder XML form, where raw text
// needs no escaping (docs/qwen-protocol.md §11).
func xmlInput(name, input string) string {
	return openTag + "\n<function=" + name + ">\n" + paramOpen + "input>\n" + input + "\n" + paramEnd +
		"\n</function>\n" + closeTag
}

func callArgs(c Call) string {
	a := bytes.TrimSpace([]byte(c.Arguments))
	if len(a) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if a[0] == '{' && json.Compact(&buf, a) == nil {
		return buf.String()
	}
	return quote(c.Arguments)
}

// RenderResult renders one tool result for the conversation history:
// "<tool_response>\n" + content + "\n</tool_response>". The trained format
// carries no tool name or id: results follow the calls' order, several of
// them in one user turn joined by "\n".
func RenderResult(content string) string {
	return "<tool_response>\n" + content + "\n</tool_response>"
}

// Reminder is the short user message that asks the model once more for a
// call when the choice required one and it answered in prose
// (Parser.RequiredUnmet).
func Reminder(choice Choice) string {
	if choice.Mode == Function {
		return "You did not call the function " + quote(choice.Name) + ". Call it now: reply with only " +
			"the <tool_call></tool_call> block, in the format described, and no other text."
	}
	return "You did not call a function. Call the right one now: reply with only " +
		"<tool_call></tool_call> blocks, in the format described, and no other text."
}

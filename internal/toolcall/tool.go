package toolcall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Tool is one tool a client declared.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON schema of a function tool's arguments (a JSON
	// object); empty means "no parameters". Ignored for custom tools.
	Parameters json.RawMessage
	// Custom marks a freeform tool (the Responses API "custom" kind, e.g.
	// Codex's apply_patch): its call carries raw text in Call.Input.
	Custom bool
	// Format optionally describes a custom tool's input (e.g. a grammar);
	// it is shown to the model as is.
	Format string
}

// Mode is the tool_choice mode.
type Mode uint8

const (
	// Auto lets the model decide whether to call tools (the default).
	Auto Mode = iota
	// None forbids calls: no tools are offered and no call is returned.
	None
	// Required demands at least one call.
	Required
	// Function demands a call of the function named in Choice.Name.
	Function
)

// Choice is the client's tool_choice.
type Choice struct {
	Mode Mode
	Name string // the function for Mode Function
}

// Call is one tool call made by the model.
type Call struct {
	Index int    // 0-based position among the calls returned for this answer
	ID    string // e.g. "call_…"; unique per call
	Name  string
	// Arguments is the text of a JSON object (function tools); always valid.
	Arguments string
	// Custom and Input: a custom tool's call carries its raw text in Input.
	Custom bool
	Input  string
}

// Problem is a client error in the tool declarations (HTTP 400 material).
type Problem struct {
	Field  string // e.g. "tools[2].name", "tool_choice"
	Reason string
}

func (p *Problem) Error() string { return "toolcall: " + p.Field + ": " + p.Reason }

// maxNameLen bounds a tool name (the OpenAI limit is 64; MCP names run longer).
const maxNameLen = 128

// Validate checks the client's tools and choice; every failure is a *Problem.
// Render and NewParser do not panic on input that fails Validate, but what they
// make of it is unspecified.
func Validate(tools []Tool, choice Choice) error {
	seen := make(map[string]bool, len(tools))
	for i, t := range tools {
		field := fmt.Sprintf("tools[%d]", i)
		if err := validName(t.Name); err != nil {
			return &Problem{Field: field + ".name", Reason: err.Error()}
		}
		if seen[t.Name] {
			return &Problem{Field: field + ".name", Reason: fmt.Sprintf("duplicate tool name %q", t.Name)}
		}
		seen[t.Name] = true
		if t.Custom || len(bytes.TrimSpace(t.Parameters)) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(t.Parameters, &obj); err != nil || obj == nil {
			return &Problem{Field: field + ".parameters", Reason: "must be a JSON schema object"}
		}
	}
	switch choice.Mode {
	case Auto, None:
	case Required:
		if len(tools) == 0 {
			return &Problem{Field: "tool_choice", Reason: "a tool call is required but no tools were declared"}
		}
	case Function:
		if !seen[choice.Name] {
			return &Problem{Field: "tool_choice", Reason: fmt.Sprintf("function %q is not among the declared tools", choice.Name)}
		}
	default:
		return &Problem{Field: "tool_choice", Reason: "unknown mode"}
	}
	return nil
}

func validName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("longer than %d characters", maxNameLen)
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || r == ':' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("invalid character %q (allowed: letters, digits, _ - . :)", r)
		}
	}
	return nil
}

// toolInfo is what the parser needs to know about a declared tool.
type toolInfo struct {
	custom bool
	schema json.RawMessage
	// parsed tells that types and nullable were read from schema; that
	// happens on the first XML call of the tool (most answers have none).
	parsed bool
	// types maps a parameter name to its declared JSON type ("string",
	// "integer", …); absent or unknown means string.
	types map[string]string
	// nullable parameters accept the literal null.
	nullable map[string]bool
}

// paramType returns a parameter's declared type and whether null is allowed.
func (t *toolInfo) paramType(key string) (string, bool) {
	if !t.parsed {
		t.types, t.nullable = paramTypes(t.schema)
		t.parsed = true
	}
	return t.types[key], t.nullable[key]
}

// index builds the lookup table of declared tools by name.
func index(tools []Tool) map[string]*toolInfo {
	m := make(map[string]*toolInfo, len(tools))
	for _, t := range tools {
		m[t.Name] = &toolInfo{custom: t.Custom, schema: t.Parameters}
	}
	return m
}

// paramTypes reads properties.<key>.type (a string, or a list such as
// ["integer","null"]; anyOf/oneOf alternatives are consulted the same way).
func paramTypes(schema json.RawMessage) (map[string]string, map[string]bool) {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || len(s.Properties) == 0 {
		return nil, nil
	}
	types := make(map[string]string, len(s.Properties))
	nullable := make(map[string]bool)
	for k, raw := range s.Properties {
		typ, null := schemaType(raw, 0)
		if typ != "" {
			types[k] = typ
		}
		if null {
			nullable[k] = true
		}
	}
	return types, nullable
}

// schemaType returns the first non-null type a property schema declares and
// whether null is allowed. depth bounds the anyOf/oneOf recursion.
func schemaType(raw json.RawMessage, depth int) (string, bool) {
	var p struct {
		Type  json.RawMessage   `json:"type"`
		AnyOf []json.RawMessage `json:"anyOf"`
		OneOf []json.RawMessage `json:"oneOf"`
	}
	if depth > 4 || json.Unmarshal(raw, &p) != nil {
		return "", false
	}
	var one string
	var list []string
	if json.Unmarshal(p.Type, &one) == nil {
		list = []string{one}
	} else {
		_ = json.Unmarshal(p.Type, &list) // not a list either: no type
	}
	typ, null := "", false
	for _, t := range list {
		if t == "null" {
			null = true
		} else if typ == "" {
			typ = t
		}
	}
	for _, alt := range append(p.AnyOf, p.OneOf...) {
		t, n := schemaType(alt, depth+1)
		null = null || n
		if typ == "" {
			typ = t
		}
	}
	return typ, null
}

package qwenfake

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Call formats of a tool-call answer (directive key callfmt), the two native
// forms of docs/qwen-protocol.md §11 and the ways a model gets them wrong.
const (
	CallHermes     = "hermes"      // <tool_call>{"name": …, "arguments": {…}}</tool_call>
	CallXML        = "xml"         // Qwen3-Coder <function=NAME><parameter=K>V</parameter></function>
	CallJSONString = "json_string" // Hermes with the arguments object sent as a JSON string
	CallBad        = "bad"         // a malformed Hermes block (a comma missing): never a valid call
	CallUndeclared = "undeclared"  // a valid Hermes block calling UndeclaredTool
	// CallCustom is a custom (freeform) tool's call in the XML form the relay
	// asks for: one "input" parameter holding ToolCallInput raw.
	CallCustom = "custom"
)

// UndeclaredTool is the name called by callfmt=undeclared; no test should
// declare it.
const UndeclaredTool = "qwenfake_undeclared_tool"

// DefaultToolName is called when the request declares no tool and the
// directive names none.
const DefaultToolName = "qwenfake_tool"

// ToolSchema is the JSON schema of the arguments ToolCallArgs builds. A test
// that uses callfmt=xml declares it, so the relay types "count" as an integer
// (XML values are typed by the declared schema); Hermes arguments need no
// schema.
const ToolSchema = `{"type":"object","properties":{"path":{"type":"string"},` +
	`"content":{"type":"string"},"count":{"type":"integer"}},"required":["path","content","count"]}`

// ToolPlan is a tool-call answer: Calls blocks of Format calling Name, in the
// answer or alone in the thinking phase, with optional prose before and
// after. Its methods return exactly what the emulator streams. Build it
// from a directive with Directive.ToolPlan.
type ToolPlan struct {
	Seed       string
	Name       string // the declared tool called (UndeclaredTool with CallUndeclared)
	Calls      int
	Format     string
	InThinking bool // the blocks form the whole thinking phase
	Before     bool // prose before the calls
	After      bool // prose after the calls
	Tokens     int  // pieces of each prose part
}

// Called is the tool name written in the blocks.
func (p ToolPlan) Called() string {
	if p.Format == CallUndeclared {
		return UndeclaredTool
	}
	return p.Name
}

// BeforeText is the prose before the calls ("" without Before).
func (p ToolPlan) BeforeText() string {
	if !p.Before {
		return ""
	}
	return AnswerText(p.Seed, p.Tokens)
}

// AfterText is the prose after the calls ("" without After).
func (p ToolPlan) AfterText() string {
	if !p.After {
		return ""
	}
	return AnswerText(p.Seed+"#after", p.Tokens)
}

// Blocks is every call block, one per line.
func (p ToolPlan) Blocks() string {
	blocks := make([]string, p.Calls)
	for i := range blocks {
		blocks[i] = p.Block(i)
	}
	return strings.Join(blocks, "\n")
}

// Reasoning is the text of the thinking phase: the blocks when InThinking,
// else "" (the usual reasoning pieces are streamed when thinking is on).
func (p ToolPlan) Reasoning() string {
	if !p.InThinking {
		return ""
	}
	return p.Blocks()
}

// Answer is the text of the answer phase: prose before, the blocks (unless
// InThinking) and prose after, separated by blank lines.
func (p ToolPlan) Answer() string {
	var parts []string
	if p.Before {
		parts = append(parts, p.BeforeText())
	}
	if !p.InThinking && p.Calls > 0 {
		parts = append(parts, p.Blocks())
	}
	if p.After {
		parts = append(parts, p.AfterText())
	}
	return strings.Join(parts, "\n\n")
}

// Block is the text of call i, from "<tool_call>" to "</tool_call>".
func (p ToolPlan) Block(i int) string {
	var b []byte
	b = append(b, "<tool_call>\n"...)
	switch p.Format {
	case CallCustom:
		b = append(b, "<function="...)
		b = append(b, p.Called()...)
		b = append(b, ">\n<parameter=input>\n"...)
		b = append(b, ToolCallInput(p.Seed, i)...)
		b = append(b, "\n</parameter>\n</function>\n"...)
	case CallXML:
		b = append(b, "<function="...)
		b = append(b, p.Called()...)
		b = append(b, ">\n"...)
		for _, f := range argFields(p.Seed, i) {
			b = append(b, "<parameter="...)
			b = append(b, f.key...)
			b = append(b, ">\n"...)
			b = append(b, f.raw...)
			b = append(b, "\n</parameter>\n"...)
		}
		b = append(b, "</function>\n"...)
	case CallJSONString:
		b = appendHermesHead(b, p.Called())
		b = append(b, quoteJSON(string(appendArgs(nil, p.Seed, i, true)))...)
		b = append(b, "}\n"...)
	case CallBad:
		b = appendHermesHead(b, p.Called())
		args := appendArgs(nil, p.Seed, i, true)
		// Drop the comma before "count": no repair makes this JSON.
		b = append(b, bytes.Replace(args, []byte(`, "count"`), []byte(` "count"`), 1)...)
		b = append(b, "}\n"...)
	default: // CallHermes, CallUndeclared
		b = appendHermesHead(b, p.Called())
		b = appendArgs(b, p.Seed, i, true)
		b = append(b, "}\n"...)
	}
	return string(append(b, "</tool_call>"...))
}

func appendHermesHead(b []byte, name string) []byte {
	b = append(b, `{"name": `...)
	b = append(b, quoteJSON(name)...)
	return append(b, `, "arguments": `...)
}

// ToolCallArgs is the arguments object of call i for seed, as compact JSON
// encoded the way the relay's parser re-encodes it (Go's encoder without HTML
// escaping), keys in the order path, content, count. It is what a client
// gets for every valid format (for CallXML when ToolSchema is declared).
// The strings hold the hard cases: quotes, backslashes, newlines, a tab,
// CJK and emoji, and the literal text "</tool_call>".
func ToolCallArgs(seed string, i int) string { return string(appendArgs(nil, seed, i, false)) }

// ToolCallInput is the raw input of custom call i for seed (callfmt=custom):
// a patch in the apply_patch format whose lines hold quotes, backslashes, a
// tab, CJK, "</tool_call>" and JSON-looking text, ending in a newline.
func ToolCallInput(seed string, i int) string {
	return "*** Begin Patch\n*** Add File: src/模块_" + strconv.Itoa(i) + "/说明.md\n" +
		"+He said \"hi\" \\ C:\\temp\\new\n+\t{\"json\": [1, 2]} </tool_call> 你好\n+" +
		strings.ReplaceAll(joinPieces(seedHash(seed)^saltArgs, i*argPieces, (i+1)*argPieces), "\n", "\n+") +
		"\n*** End Patch\n"
}

type argField struct {
	key string
	raw string // the value as raw text (XML form)
	js  string // the value as JSON
}

// saltArgs keeps argument pieces apart from the answer and reasoning ones.
const saltArgs = 0x2545f4914f6cdd1d

// argPieces is the number of vocabulary pieces added to each content value.
const argPieces = 6

func argFields(seed string, i int) [3]argField {
	path := "src/模块_" + strconv.Itoa(i) + "/说明 \"v2\".md"
	content := "He said \"hi\" \\ C:\\temp\\new\nline 2: </tool_call> is text, not a tag; 你好，世界 🙂" +
		joinPieces(seedHash(seed)^saltArgs, i*argPieces, (i+1)*argPieces)
	count := strconv.Itoa(i + 1)
	return [3]argField{
		{key: "path", raw: path, js: quoteJSON(path)},
		{key: "content", raw: content, js: quoteJSON(content)},
		{key: "count", raw: count, js: count},
	}
}

// appendArgs appends the arguments object of call i, compact or with the
// ": " and ", " separators a model writes.
func appendArgs(b []byte, seed string, i int, spaced bool) []byte {
	colon, comma := ":", ","
	if spaced {
		colon, comma = ": ", ", "
	}
	b = append(b, '{')
	for j, f := range argFields(seed, i) {
		if j > 0 {
			b = append(b, comma...)
		}
		b = append(b, quoteJSON(f.key)...)
		b = append(b, colon...)
		b = append(b, f.js...)
	}
	return append(b, '}')
}

// quoteJSON encodes s as a JSON string without HTML escaping.
func quoteJSON(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// declaredTool returns the first tool declared in the prompt's <tools>
// section, one JSON signature per line as the relay renders it
// (docs/qwen-protocol.md §11), or "".
func declaredTool(text string) string {
	const open = "<tools>\n"
	i := strings.Index(text, open)
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(text[i+len(open):], "\n")
	var v struct {
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal([]byte(line), &v) != nil {
		return ""
	}
	if v.Function.Name != "" {
		return v.Function.Name
	}
	return v.Name
}

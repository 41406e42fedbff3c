package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

const (
	openTag   = "<tool_call>"
	closeTag  = "</tool_call>"
	paramOpen = "<parameter="
	paramEnd  = "</parameter>"
)

type blockKind uint8

const (
	kindUnknown blockKind = iota // only whitespace so far
	kindJSON                     // Hermes: a JSON object (maybe fenced)
	kindXML                      // Qwen3-Coder: <function=…>
	kindOther                    // neither; it can only come back as text
)

// blockScanner collects the content of one <tool_call> block and finds its
// closing tag. A "</tool_call>" inside a JSON string or inside an XML
// parameter value does not close the block.
type blockScanner struct {
	buf     []byte
	scanned int
	kind    blockKind
	inStr   bool // JSON: inside a string
	esc     bool // JSON: after a backslash inside a string
	inParam bool // XML: inside <parameter=…>…</parameter>
}

func (b *blockScanner) reset() {
	*b = blockScanner{buf: b.buf[:0]}
}

// feed adds text. When the block closed it returns its inner text (between
// the tags) and the input after the closing tag.
func (b *blockScanner) feed(text string) (inner, rest string, closed bool) {
	old := len(b.buf)
	b.buf = append(b.buf, text...)
	end, ok := b.scan()
	if !ok {
		return "", "", false
	}
	// The closing tag was incomplete before this text arrived, so it ends
	// inside text and rest is a tail of it.
	inner = string(b.buf[:end])
	rest = text[end+len(closeTag)-old:]
	b.buf = b.buf[:0]
	return inner, rest, true
}

// content is everything collected so far (for a block that never closed).
func (b *blockScanner) content() string { return string(b.buf) }

// scan advances over b.buf and returns the offset of the closing tag. It
// stops early, without consuming, at a '<' whose meaning depends on bytes
// that have not arrived yet.
func (b *blockScanner) scan() (int, bool) {
	buf := b.buf
	for i := b.scanned; i < len(buf); i++ {
		c := buf[i]
		if b.kind == kindUnknown {
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				continue
			case c == '{' || c == '"' || c == '[' || c == '`':
				b.kind = kindJSON
			case c == '<':
				b.kind = kindXML
			default:
				b.kind = kindOther
			}
		}
		if b.kind == kindJSON && b.inStr {
			switch {
			case b.esc:
				b.esc = false
			case c == '\\':
				b.esc = true
			case c == '"':
				b.inStr = false
			}
			continue
		}
		if b.kind == kindJSON && c == '"' {
			b.inStr = true
			continue
		}
		if c != '<' {
			continue
		}
		rem := buf[i:]
		if b.inParam {
			if hasPrefixOrCut(rem, paramEnd) {
				if len(rem) < len(paramEnd) {
					b.scanned = i
					return 0, false
				}
				b.inParam = false
			}
			continue
		}
		if hasPrefixOrCut(rem, closeTag) {
			if len(rem) < len(closeTag) {
				b.scanned = i
				return 0, false
			}
			b.scanned = i
			return i, true
		}
		if b.kind == kindXML && hasPrefixOrCut(rem, paramOpen) {
			if len(rem) < len(paramOpen) {
				b.scanned = i
				return 0, false
			}
			b.inParam = true
		}
	}
	b.scanned = len(buf)
	return 0, false
}

// hasPrefixOrCut reports whether data starts with tag, or is a proper prefix
// of it (more bytes are needed to decide).
func hasPrefixOrCut(data []byte, tag string) bool {
	if len(data) >= len(tag) {
		return string(data[:len(tag)]) == tag
	}
	return string(data) == tag[:len(data)]
}

// parsed is a call read from a block, before filtering and numbering.
type parsed struct {
	name   string
	args   string // JSON object text (function tools)
	custom bool
	input  string // custom tools
}

// parseBlock reads the inner text of a block as calls to declared tools:
// usually one call; models sometimes put several Hermes objects in one block,
// one after the other or as a JSON array, or wrap the JSON in a Markdown code
// fence. Every call in the block must be valid, or none is.
func parseBlock(inner string, tools map[string]*toolInfo) ([]parsed, bool) {
	body := unfence(strings.TrimSpace(inner))
	switch {
	case strings.HasPrefix(body, "{"):
		if c, ok := parseHermes(body, tools); ok {
			return []parsed{c}, true
		}
		return parseHermesSeq(body, tools)
	case strings.HasPrefix(body, "["):
		var list []json.RawMessage
		if json.Unmarshal([]byte(body), &list) != nil || len(list) == 0 {
			return nil, false
		}
		return parseHermesList(list, tools)
	case strings.HasPrefix(body, "<function="):
		c, ok := parseXML(body, tools)
		return []parsed{c}, ok
	}
	return nil, false
}

// unfence strips a Markdown code fence (```json … ```) around a block's body.
func unfence(body string) string {
	if !strings.HasPrefix(body, "```") || !strings.HasSuffix(body, "```") || len(body) < 6 {
		return body
	}
	nl := strings.IndexByte(body, '\n')
	if nl < 0 {
		return body
	}
	return strings.TrimSpace(body[nl+1 : len(body)-3])
}

// parseHermesSeq reads several JSON objects one after another.
func parseHermesSeq(body string, tools map[string]*toolInfo) ([]parsed, bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	var list []json.RawMessage
	for dec.More() {
		var raw json.RawMessage
		if dec.Decode(&raw) != nil || len(raw) == 0 || raw[0] != '{' {
			return nil, false
		}
		list = append(list, raw)
	}
	if len(list) < 2 {
		return nil, false
	}
	return parseHermesList(list, tools)
}

func parseHermesList(list []json.RawMessage, tools map[string]*toolInfo) ([]parsed, bool) {
	out := make([]parsed, 0, len(list))
	for _, raw := range list {
		c, ok := parseHermes(string(raw), tools)
		if !ok {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// lookup finds a declared tool, also under an OpenAI-style "functions." prefix.
func lookup(name string, tools map[string]*toolInfo) (string, *toolInfo) {
	if t := tools[name]; t != nil {
		return name, t
	}
	if short, ok := strings.CutPrefix(name, "functions."); ok {
		if t := tools[short]; t != nil {
			return short, t
		}
	}
	return "", nil
}

// parseHermes reads {"name": …, "arguments": …}; the arguments may be an
// object, a string holding one (or, for a custom tool, the raw input), or
// absent. "parameters" is accepted as a synonym of "arguments".
func parseHermes(body string, tools map[string]*toolInfo) (parsed, bool) {
	var v struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return parsed{}, false
	}
	name, info := lookup(v.Name, tools)
	if info == nil {
		return parsed{}, false
	}
	raw := v.Arguments
	if len(raw) == 0 {
		raw = v.Parameters
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return parsed{}, false
		}
		if info.custom {
			return parsed{name: name, custom: true, input: s}, true
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) == 0 || string(raw) == "null" {
		if info.custom {
			return parsed{name: name, custom: true}, true
		}
		return parsed{name: name, args: "{}"}, true
	}
	if raw[0] != '{' {
		return parsed{}, false
	}
	if info.custom {
		in, ok := customInput(raw)
		return parsed{name: name, custom: true, input: in}, ok
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return parsed{}, false
	}
	return parsed{name: name, args: buf.String()}, true
}

// customInput takes a custom tool's raw text from an arguments object: the
// "input" member, or the only member when there is just one string.
func customInput(raw []byte) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return "", false
	}
	member, ok := obj["input"]
	if !ok && len(obj) == 1 {
		for _, m := range obj {
			member = m
		}
	}
	var s string
	if member == nil || json.Unmarshal(member, &s) != nil {
		return "", false
	}
	return s, true
}

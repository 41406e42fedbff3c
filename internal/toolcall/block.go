package toolcall

import "strings"

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
	case strings.HasPrefix(body, "{"), strings.HasPrefix(body, "["):
		if cs, ok := parseJSONBlock(body, tools); ok {
			return cs, true
		}
		if fixed, changed := repairJSON(body); changed {
			return parseJSONBlock(fixed, tools)
		}
	case strings.HasPrefix(body, "<function="):
		c, ok := parseXML(body, tools)
		return []parsed{c}, ok
	}
	return nil, false
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

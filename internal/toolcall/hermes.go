package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// parseJSONBlock reads the Hermes form: one object, several objects one after
// the other, or an array of them.
func parseJSONBlock(body string, tools map[string]*toolInfo) ([]parsed, bool) {
	if body[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal([]byte(body), &list) != nil || len(list) == 0 {
			return nil, false
		}
		return parseHermesList(list, tools)
	}
	if c, ok := parseHermes(body, tools); ok {
		return []parsed{c}, true
	}
	return parseHermesSeq(body, tools)
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

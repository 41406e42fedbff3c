package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// parseXML reads the Qwen3-Coder form (docs/qwen-protocol.md §11):
//
//	<function=NAME>
//	<parameter=KEY>
//	VALUE
//	</parameter>
//	</function>
//
// A value loses one leading and one trailing newline and is then typed by the
// tool's schema. A missing "</function>" at the very end and a missing
// "</parameter>" are tolerated; anything else outside the tags makes the block
// invalid.
func parseXML(body string, tools map[string]*toolInfo) (parsed, bool) {
	rest := strings.TrimPrefix(body, "<function=")
	gt := strings.IndexByte(rest, '>')
	if gt < 0 {
		return parsed{}, false
	}
	name, info := lookup(strings.TrimSpace(rest[:gt]), tools)
	if info == nil {
		return parsed{}, false
	}
	rest = rest[gt+1:]
	var keys, vals []string
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" {
			break
		}
		if strings.HasPrefix(rest, "</function>") {
			if strings.TrimSpace(rest[len("</function>"):]) != "" {
				return parsed{}, false
			}
			break
		}
		if !strings.HasPrefix(rest, paramOpen) {
			return parsed{}, false
		}
		rest = rest[len(paramOpen):]
		gt = strings.IndexByte(rest, '>')
		if gt < 0 {
			return parsed{}, false
		}
		key := strings.TrimSpace(rest[:gt])
		rest = rest[gt+1:]
		val, next, ok := paramValue(rest)
		if key == "" || !ok {
			return parsed{}, false
		}
		val = strings.TrimPrefix(val, "\n")
		val = strings.TrimSuffix(val, "\n")
		keys, vals = setParam(keys, vals, key, val)
		rest = next
	}
	if info.custom {
		return xmlCustom(name, keys, vals)
	}
	return parsed{name: name, args: xmlArgs(info, keys, vals)}, true
}

// paramValue splits a parameter's value from what follows it. The value ends
// at "</parameter>", or where the model forgot it: at the next "<parameter="
// or, failing both, at "</function>".
func paramValue(rest string) (val, next string, ok bool) {
	end := strings.Index(rest, paramEnd)
	if open := strings.Index(rest, paramOpen); open >= 0 && (end < 0 || open < end) {
		return rest[:open], rest[open:], true
	}
	if end >= 0 {
		return rest[:end], rest[end+len(paramEnd):], true
	}
	if f := strings.Index(rest, "</function>"); f >= 0 {
		return rest[:f], rest[f:], true
	}
	return "", "", false
}

// setParam records key=val; a repeated key keeps its first position and its
// last value.
func setParam(keys, vals []string, key, val string) ([]string, []string) {
	for i, k := range keys {
		if k == key {
			vals[i] = val
			return keys, vals
		}
	}
	return append(keys, key), append(vals, val)
}

// xmlCustom takes a custom tool's raw input from the "input" parameter, or
// from the only parameter there is.
func xmlCustom(name string, keys, vals []string) (parsed, bool) {
	for i, k := range keys {
		if k == "input" {
			return parsed{name: name, custom: true, input: vals[i]}, true
		}
	}
	switch len(keys) {
	case 0:
		return parsed{name: name, custom: true}, true
	case 1:
		return parsed{name: name, custom: true, input: vals[0]}, true
	}
	return parsed{}, false
}

// xmlArgs builds the arguments object, parameters in the order given.
func xmlArgs(info *toolInfo, keys, vals []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(k))
		b.WriteByte(':')
		typ, nullable := info.paramType(k)
		b.WriteString(typedValue(vals[i], typ, nullable))
	}
	b.WriteByte('}')
	return b.String()
}

// typedValue turns an XML parameter value into JSON by the declared type:
// integer, number, boolean, object and array values become JSON when they
// parse as such; everything else (and every undeclared parameter) stays a
// string.
func typedValue(val, typ string, nullable bool) string {
	t := strings.TrimSpace(val)
	if nullable && t == "null" {
		return "null"
	}
	switch typ {
	case "integer", "number":
		if isJSONNumber(t) {
			return t
		}
	case "boolean":
		switch strings.ToLower(t) {
		case "true":
			return "true"
		case "false":
			return "false"
		}
	case "object", "array":
		open := byte('{')
		if typ == "array" {
			open = '['
		}
		var buf bytes.Buffer
		if t != "" && t[0] == open && json.Compact(&buf, []byte(t)) == nil {
			return buf.String()
		}
	}
	return quote(val)
}

// isJSONNumber reports whether s is exactly one JSON number.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if c != '-' && (c < '0' || c > '9') {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// quote encodes s as a JSON string without HTML escaping, so "<" stays "<".
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// absent tells whether a member was missing or null.
func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// into decodes one member of the request; a type mismatch becomes a 400
// naming the member by its JSON path (path, plus the inner field).
func into(raw json.RawMessage, path string, dst any) error {
	err := json.Unmarshal(raw, dst)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := path
		if te.Field != "" {
			where = joinPath(path, te.Field)
		}
		return api.Invalid("invalid_type", where, "%s: expected %s, got %s", where, api.ExpectedJSON(te.Type), api.GotJSON(te.Value))
	}
	return api.Invalid("invalid_request", path, "%s: invalid value", path)
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// kindOf names the kind of a JSON value for error messages.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// marshal encodes v without HTML escaping (answers carry code and markup,
// which stays readable), without a trailing newline.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unsupported values fail; every type encoded here is plain data.
		return []byte("null")
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

package api

import (
	"reflect"
	"strings"
)

// ExpectedJSON names, in JSON terms, what a Go type decodes from: the
// client wrote JSON, so a message never names Go types.
func ExpectedJSON(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another JSON value"
}

// GotJSON turns json.UnmarshalTypeError.Value ("string", "number 1.5", …)
// into words.
func GotJSON(v string) string {
	switch v {
	case "string":
		return "a string"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	case "array":
		return "an array"
	case "object":
		return "an object"
	case "null":
		return "null"
	}
	if n, ok := strings.CutPrefix(v, "number "); ok {
		if len(n) > 40 {
			n = n[:40] + "…"
		}
		return "the number " + n
	}
	return "another JSON value"
}

package openai

import (
	"errors"
	"strings"
	"testing"
)

// Decoding errors say what JSON was expected, in JSON words; they never
// name Go types (regression, issue 6: "expected []openai.Message").
func TestDecodeErrorsSpeakJSON(t *testing.T) {
	tests := []struct {
		body, param, want string
	}{
		{`{"model":5}`, "model", "Invalid type for 'model': expected a string, got a number."},
		{`{"model":"m","messages":"hi"}`, "messages", "Invalid type for 'messages': expected an array of message objects, got a string."},
		{`{"model":"m","messages":{"role":"user"}}`, "messages", "expected an array of message objects, got an object."},
		{`{"model":"m","messages":[5]}`, "messages", "Invalid type for an element of 'messages': expected a message object"},
		{`{"model":"m","messages":[{"role":"user","content":5}]}`, "messages.content", "Invalid type for 'messages.content': expected a string, an array of content parts, or null, got a number."},
		{`{"model":"m","messages":[{"role":"user","content":{"text":"x"}}]}`, "messages.content", "got an object"},
		{`{"model":"m","messages":[{"role":"user","content":true}]}`, "messages.content", "got true or false"},
		{`{"model":"m","messages":[{"role":"user","content":[7]}]}`, "messages.content", "an element of 'messages.content': expected a content part object"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages.content.text", "expected a string, got a number"},
		{`{"model":"m","stream":"yes"}`, "stream", "Invalid type for 'stream': expected true or false, got a string."},
		{`{"model":"m","stream_options":[]}`, "stream_options", "expected an object, got an array"},
		{`{"model":"m","n":1.5}`, "n", "expected an integer, got the number 1.5."},
		{`{"model":"m","max_tokens":1e400}`, "max_tokens", "expected an integer, got the number 1e400."},
		{`{"model":"m","temperature":"hot"}`, "temperature", "expected a number, got a string."},
		{`[1,2]`, "", "The request body must be a JSON object (the chat completion request), got an array."},
		{`"hello"`, "", "must be a JSON object (the chat completion request), got a string."},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := DecodeChatRequest([]byte(tt.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a RequestError", err, err)
			}
			if !strings.Contains(re.Message, tt.want) || re.Param != tt.param || re.Code != "invalid_type" {
				t.Errorf("got %q (param %q, code %q), want it to contain %q (param %q)", re.Message, re.Param, re.Code, tt.want, tt.param)
			}
			assertNoGoTypes(t, re.Message)
		})
	}
}

func assertNoGoTypes(t *testing.T, msg string) {
	t.Helper()
	for _, bad := range []string{"openai.", "[]", "Go ", "float64", "int64", "*", "struct", "main."} {
		if strings.Contains(msg, bad) {
			t.Errorf("message %q names a Go type (%q)", msg, bad)
		}
	}
}

func TestGotJSONClipsHugeNumbers(t *testing.T) {
	n := strings.Repeat("9", 5000)
	_, err := DecodeChatRequest([]byte(`{"model":"m","n":` + n + `}`))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error not clipped: %d bytes", len(err.Error()))
	}
}

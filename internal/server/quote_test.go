package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestQuoted(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct{ in, want string }{
		{"/v1/nope", "/v1/nope"},
		{"line\nbreak\ttab", "line?break?tab"},
		{"bad \xff utf8", "bad ? utf8"},
		{"bidi \u202e override", "bidi ? override"},
		{"你好/模型", "你好/模型"},
		{long, strings.Repeat("a", maxQuoted) + "… (5000 bytes)"},
		{strings.Repeat("é", maxQuoted), strings.Repeat("é", maxQuoted)},
	}
	for _, tt := range tests {
		t.Run(tt.want[:min(len(tt.want), 20)], func(t *testing.T) {
			if got := quoted(tt.in); got != tt.want {
				t.Fatalf("quoted = %q, want %q", got, tt.want)
			}
		})
	}
}

// Issue 6: a long unknown path was echoed back whole in the 404 (and a long
// model name in the model_not_found message).
func TestLongInputNotEchoed(t *testing.T) {
	ts := newTestServer(t, Options{}, &fakeProvider{open: answer(upstream.Event{Type: upstream.EventContent, Text: "x"})})
	long := strings.Repeat("x", 6000)
	get := func(path string) *http.Response {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	tests := []struct {
		name   string
		resp   func() *http.Response
		status int
	}{
		{"unknown path", func() *http.Response { return get("/" + long) }, 404},
		{"unknown path with a newline", func() *http.Response { return get("/a%0Ab" + long) }, 404},
		{"wrong method on a model path", func() *http.Response {
			return ts.post(t, "/v1/models/"+long, "")
		}, 405},
		{"unknown model by path", func() *http.Response { return get("/v1/models/" + long) }, 404},
		{"unknown model in a request", func() *http.Response {
			return ts.post(t, "/v1/chat/completions", `{"model":"`+long+`","messages":[{"role":"user","content":"hi"}]}`)
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := decodeError(t, tt.resp(), tt.status)
			msg := eb.Error.Message
			if len(msg) > 400 || strings.Contains(msg, strings.Repeat("x", maxQuoted+1)) || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("message echoes the input (%d bytes): %.200q", len(msg), msg)
			}
			if !strings.Contains(msg, "bytes)") {
				t.Fatalf("message does not say the input was cut: %q", msg)
			}
		})
	}
}

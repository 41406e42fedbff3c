package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/config"
)

// scriptMarker in a request's text makes the scripted upstream answer with
// the named script instead of the emulator's generated text: the emulator
// cannot yet answer with tool-call text, which the Responses tests need.
var scriptMarker = regexp.MustCompile(`E2E-SCRIPT-([a-z_]+)`)

// scripted returns a config hook that puts a proxy in front of the
// emulator: completions whose request holds a script marker are answered
// with that script's text in the v2 frame format (docs/qwen-protocol.md
// §3.3), three characters per frame; everything else goes to the emulator.
// The last marker in the body wins (a flattened history holds earlier ones).
func scripted(t *testing.T, scripts map[string]string) func(*config.Config) {
	return func(c *config.Config) {
		target, err := url.Parse(c.UpstreamURL)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.Transport = tr
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/api/v2/chat/completions" {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				if m := scriptMarker.FindAllSubmatch(body, -1); len(m) > 0 {
					name := string(m[len(m)-1][1])
					text, ok := scripts[name]
					if !ok {
						http.Error(w, "no script "+name, http.StatusInternalServerError)
						return
					}
					writeScript(w, r.URL.Query().Get("chat_id"), text)
					return
				}
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(func() {
			srv.CloseClientConnections()
			srv.Close()
			tr.CloseIdleConnections()
		})
		c.UpstreamURL = srv.URL
	}
}

// writeScript answers one completion with text.
func writeScript(w http.ResponseWriter, chatID, text string) {
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"response.created\":{\"chat_id\": %q, \"parent_id\": \"p-e2e\", \"response_id\":\"r-e2e\", \"response_index\": \"0\"}}\n\n", chatID)
	runes := []rune(text)
	out := 0
	for len(runes) > 0 {
		k := min(3, len(runes))
		piece, _ := json.Marshal(string(runes[:k]))
		runes = runes[k:]
		out++
		fmt.Fprintf(w, "data: {\"choices\": [{\"delta\": {\"role\": \"assistant\", \"content\": %s, \"phase\": \"answer\", \"status\": \"typing\"}}], \"response_id\": \"r-e2e\", \"usage\": {\"input_tokens\": 10, \"output_tokens\": %d, \"total_tokens\": %d}}\n\n", piece, out, 10+out)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	fmt.Fprint(w, "data: {\"choices\": [{\"delta\": {\"content\": \"\", \"role\": \"assistant\", \"status\": \"finished\", \"phase\": \"answer\"}}], \"response_id\": \"r-e2e\"}\n\n")
}

// patchInput is the apply_patch input of the "patch" script.
const patchInput = "*** Begin Patch\n*** Update File: README.md\n@@\n-# Projcet \"x\" <b>\n+# Project \"x\" <b> 项目\n*** End Patch"

// scripts are the scripted answers the Responses tests use.
var scripts = map[string]string{
	"weather": "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"</tool_call>\\\" 巴黎\"}}\n</tool_call>",
	"patch":   "<tool_call>\n<function=apply_patch>\n<parameter=input>\n" + patchInput + "\n</parameter>\n</function>\n</tool_call>",
	"done":    "All done: the weather is sunny.",
}

// weatherArgs are the arguments of the "weather" script's call.
const weatherCity = `Paris "</tool_call>" 巴黎`

func marker(name string) string { return " E2E-SCRIPT-" + name }

package anthropic

import (
	"errors"
	"io"
	"net/http"

	"github.com/qwenrelay/qwenrelay/internal/api"
)

// CountTokensHandler serves POST /v1/messages/count_tokens: it answers
// {"input_tokens": n} (CountTokens) or an Anthropic error. The body is read
// up to maxBytes (0: no limit). Authentication and limits are the
// server's middleware's.
func CountTokensHandler(maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if maxBytes > 0 {
			body = http.MaxBytesReader(w, r.Body, maxBytes)
		}
		raw, err := io.ReadAll(body)
		if err == nil {
			var n int
			if n, err = CountTokens(raw); err == nil {
				writeJSON(w, http.StatusOK, marshal(struct {
					InputTokens int `json:"input_tokens"`
				}{n}))
				return
			}
		}
		var p *api.Problem
		if !errors.As(err, &p) {
			p = api.ProblemOf(err, false)
		}
		status, msg := Codec{}.Error(p)
		writeJSON(w, status, msg)
	})
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

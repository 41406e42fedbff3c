package anthropic

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCountTokensHandler(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		max        int64
		wantStatus int
		wantBody   string
	}{
		{"ok", `{"model":"m","messages":[{"role":"user","content":"hello there"}]}`, 0, 200, `{"input_tokens":7}`},
		{"bad body", `{"model":"m"}`, 0, 400, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}}`},
		{"too large", `{"model":"m","messages":[{"role":"user","content":"hello there"}]}`, 10, 413, `"type":"request_too_large"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			CountTokensHandler(tt.max).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/messages/count_tokens", strings.NewReader(tt.body)))
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

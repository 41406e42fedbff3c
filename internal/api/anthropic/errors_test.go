package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestErrorRendering(t *testing.T) {
	tests := []struct {
		name       string
		problem    *api.Problem
		wantStatus int
		wantType   string
	}{
		{"missing max_tokens", api.Invalid("missing_required_parameter", "max_tokens", "max_tokens: field required"), 400, "invalid_request_error"},
		{"bad key", &api.Problem{Status: 401, Class: api.ClassAuthentication, Message: "invalid API key"}, 401, "authentication_error"},
		{"model not allowed", &api.Problem{Status: 403, Class: api.ClassPermission, Message: "no"}, 403, "permission_error"},
		{"unknown model", &api.Problem{Status: 404, Class: api.ClassNotFound, Message: "model x not found"}, 404, "not_found_error"},
		{"404 of another class", &api.Problem{Status: 404, Class: api.ClassInvalidRequest, Message: "no route"}, 404, "not_found_error"},
		{"body too large", api.ProblemOf(&http.MaxBytesError{Limit: 10}, false), 413, "request_too_large"},
		{"key limit", api.ProblemOf(&keys.LimitError{Limit: "rpm", Message: "slow down", RetryAfter: time.Second}, false), 429, "rate_limit_error"},
		{"upstream rate limited", api.ProblemOf(&upstream.Error{Kind: upstream.KindRateLimited}, false), 429, "rate_limit_error"},
		{"upstream failure", api.ProblemOf(&upstream.Error{Kind: upstream.KindNetwork, Message: "reset"}, false), 529, "overloaded_error"},
		{"upstream timeout", api.ProblemOf(&upstream.Error{Kind: upstream.KindTimeout}, false), 529, "overloaded_error"},
		{"relay timeout", api.ProblemOf(contextDeadline(), false), 529, "overloaded_error"},
		{"conversation over the size wall", api.ProblemOf(&upstream.Error{Kind: upstream.KindTooLarge, Message: "the request is 130000 bytes"}, false), 400, "invalid_request_error"},
		{"upstream content filter", api.ProblemOf(&upstream.Error{Kind: upstream.KindContentFilter}, false), 400, "invalid_request_error"},
		{"passthrough token rejected", api.ProblemOf(&upstream.Error{Kind: upstream.KindUnauthorized}, true), 401, "authentication_error"},
		{"internal", api.ProblemOf(errors.New("boom"), false), 500, "api_error"},
		{"no account", &api.Problem{Status: 503, Class: api.ClassServer, Message: "no account"}, 503, "api_error"},
		{"zero status", &api.Problem{Message: "?"}, 500, "api_error"},
		{"nil", nil, 500, "api_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := New().Error(tt.problem)
			var got struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if status != tt.wantStatus || got.Type != "error" || got.Error.Type != tt.wantType || got.Error.Message == "" {
				t.Errorf("Error = %d %s; want %d %s", status, body, tt.wantStatus, tt.wantType)
			}
			if tt.problem != nil && tt.problem.Code == codeContextTooLarge {
				if got.Error.Message != promptTooLong+tt.problem.Message {
					t.Errorf("message %q, want it to start %q", got.Error.Message, promptTooLong)
				}
			} else if tt.problem != nil && got.Error.Message != tt.problem.Message {
				t.Errorf("message %q, want %q", got.Error.Message, tt.problem.Message)
			}
			// The stream's error event carries the same body.
			enc := New().NewStream(&api.Request{}, testMeta)
			frame := string(enc.Fail(nil, tt.problem))
			if want := "event: error\ndata: " + string(body) + "\n\n"; frame != want {
				t.Errorf("Fail = %q, want %q", frame, want)
			}
		})
	}
}

func TestHeartbeatAndID(t *testing.T) {
	enc := New().NewStream(nil, testMeta)
	if got := string(enc.Heartbeat(nil)); got != "event: ping\ndata: {\"type\": \"ping\"}\n\n" {
		t.Errorf("Heartbeat = %q", got)
	}
	a, b := New().NewID(), New().NewID()
	if !strings.HasPrefix(a, "msg_") || len(a) < 20 || a == b {
		t.Errorf("NewID = %q, %q", a, b)
	}
	if New().Name() != "anthropic" {
		t.Errorf("Name = %q", New().Name())
	}
}

// contextDeadline is the error a request's deadline leaves.
func contextDeadline() error { return context.DeadlineExceeded }

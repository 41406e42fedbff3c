package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// StatusClientClosed is logged (never sent) when the client went away.
const StatusClientClosed = 499

// Class is the neutral category of a problem; each codec maps it to its
// own error type (the values are OpenAI's type names).
type Class string

// Problem classes.
const (
	ClassInvalidRequest Class = "invalid_request_error"
	ClassAuthentication Class = "authentication_error"
	ClassPermission     Class = "permission_error"
	ClassNotFound       Class = "not_found_error"
	ClassRateLimit      Class = "rate_limit_error"
	ClassServer         Class = "server_error"
	ClassUpstream       Class = "upstream_error"
	ClassTimeout        Class = "timeout_error"
)

// Problem is the one neutral error every surface renders in its own shape.
// Message is safe to show to the client.
type Problem struct {
	Status     int
	Class      Class
	Code       string
	Param      string
	Message    string
	RetryAfter time.Duration
	// Kind names the problem in logs, metrics and usage rows (defaults to
	// Code).
	Kind string
}

func (p *Problem) Error() string { return p.Message }

// LogKind is the problem's name for logs and metrics.
func (p *Problem) LogKind() string {
	if p.Kind != "" {
		return p.Kind
	}
	return p.Code
}

// Invalid is a 400 invalid-request problem about param.
func Invalid(code, param, format string, args ...any) *Problem {
	return &Problem{Status: http.StatusBadRequest, Class: ClassInvalidRequest, Code: code, Param: param,
		Message: fmt.Sprintf(format, args...), Kind: "invalid_request"}
}

// ProblemOf is the one place where any error becomes a Problem: the HTTP
// status, the class and a message that says what to do. passthrough says
// whether the relay runs with the caller's own Qwen token.
func ProblemOf(err error, passthrough bool) *Problem {
	var (
		p   *Problem
		tp  *toolcall.Problem
		nc  *relay.NoCredentialError
		ue  *upstream.Error
		mbe *http.MaxBytesError
		le  *keys.LimitError
		mna *keys.ModelNotAllowedError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &tp):
		return Invalid("invalid_tools", tp.Field, "%s: %s", tp.Field, tp.Reason)
	case errors.As(err, &mbe):
		return &Problem{Status: http.StatusRequestEntityTooLarge, Class: ClassInvalidRequest, Code: "request_too_large",
			Message: fmt.Sprintf("request body larger than %d bytes; raise QWENRELAY_MAX_REQUEST_BYTES or send less", mbe.Limit)}
	case errors.As(err, &le):
		return &Problem{Status: http.StatusTooManyRequests, Class: ClassRateLimit, Code: "rate_limit_exceeded",
			Message: "API key limit reached (" + le.Limit + "): " + le.Message, RetryAfter: le.RetryAfter, Kind: "key_limit_" + le.Limit}
	case errors.As(err, &mna):
		return &Problem{Status: http.StatusForbidden, Class: ClassPermission, Code: "model_not_allowed", Param: "model", Message: mna.Error()}
	case errors.As(err, &nc):
		if nc.RetryAfter > 0 {
			return &Problem{Status: http.StatusTooManyRequests, Class: ClassRateLimit, Code: "upstream_rate_limited",
				Message: nc.Message, RetryAfter: nc.RetryAfter, Kind: "no_credential"}
		}
		return &Problem{Status: http.StatusServiceUnavailable, Class: ClassServer, Code: "no_upstream_account", Message: nc.Message, Kind: "no_credential"}
	case errors.As(err, &ue):
		return upstreamProblem(ue, passthrough)
	case errors.Is(err, context.Canceled):
		return &Problem{Status: StatusClientClosed, Class: ClassInvalidRequest, Code: "client_closed", Message: "client closed the request", Kind: "client_gone"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Problem{Status: http.StatusGatewayTimeout, Class: ClassTimeout, Code: "timeout", Message: "the request timed out"}
	}
	return &Problem{Status: http.StatusInternalServerError, Class: ClassServer, Code: "internal_error",
		Message: "internal error; see the relay's log", Kind: "internal"}
}

// upstreamProblem renders an upstream failure. The status comes from the
// policy table; only a rejected token in passthrough mode (the caller's
// own) is the caller's 401.
func upstreamProblem(ue *upstream.Error, passthrough bool) *Problem {
	detail := ue.Message
	if detail == "" {
		detail = ue.Kind.String()
	}
	p := &Problem{Status: ue.Kind.Policy().Status, RetryAfter: ue.RetryAfter, Kind: ue.Kind.String()}
	set := func(class Class, code, msg string) *Problem {
		p.Class, p.Code, p.Message = class, code, msg
		return p
	}
	switch ue.Kind {
	case upstream.KindNetwork:
		return set(ClassUpstream, "upstream_unreachable", "could not reach Qwen Chat: "+detail)
	case upstream.KindTimeout:
		return set(ClassTimeout, "upstream_timeout", "Qwen Chat did not answer in time: "+detail)
	case upstream.KindUnauthorized:
		if passthrough {
			p.Status = http.StatusUnauthorized
			return set(ClassAuthentication, "invalid_qwen_token",
				"Qwen Chat rejected your token (expired or invalid). Sign in at chat.qwen.ai, copy localStorage 'token' from the browser's developer tools, and send it as the Bearer token.")
		}
		return set(ClassUpstream, "upstream_auth_failed",
			"Qwen Chat rejected the relay's configured token (expired or invalid); the operator must replace it (QWENRELAY_QWEN_TOKENS).")
	case upstream.KindRateLimited:
		return set(ClassRateLimit, "upstream_rate_limited", "Qwen Chat is rate limiting this account: "+detail+retryHint(ue.RetryAfter))
	case upstream.KindQuota:
		return set(ClassRateLimit, "upstream_quota_exceeded", "the Qwen account's usage quota is used up: "+detail+retryHint(ue.RetryAfter))
	case upstream.KindCaptcha, upstream.KindWAF:
		return set(ClassUpstream, "upstream_verification_required",
			"Qwen Chat asked for human verification (captcha/WAF) and refused the request. Open chat.qwen.ai in a browser signed in with this account, pass the check, then retry; sending less text per request also helps.")
	case upstream.KindContentFilter:
		return set(ClassInvalidRequest, "content_filter", "Qwen Chat's content filter refused the request: "+detail)
	case upstream.KindTooLarge:
		return set(ClassInvalidRequest, "context_too_large", detail)
	case upstream.KindModelNotFound:
		return set(ClassInvalidRequest, "model_not_found", detail)
	case upstream.KindBadRequest:
		return set(ClassInvalidRequest, "upstream_bad_request", "Qwen Chat refused the request: "+detail)
	case upstream.KindEmpty:
		return set(ClassUpstream, "upstream_empty_answer", "Qwen Chat returned an empty answer (often a sign of throttling or missing anti-bot headers); retry later")
	}
	return set(ClassUpstream, "upstream_error", "Qwen Chat failed: "+detail)
}

func retryHint(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprintf(" (retry after %s)", d.Round(time.Second))
}

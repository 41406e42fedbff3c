package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/openai"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// StatusClientClosed is logged (never sent) when the client went away.
const StatusClientClosed = 499

// apiError is an error the server itself decides on.
type apiError struct {
	Status     int
	Type       string
	Code       string
	Param      string
	Message    string
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Message }

// mapped is the client-facing form of any error.
type mapped struct {
	status     int
	body       openai.ErrorBody
	retryAfter time.Duration
	kind       string // for logs and metrics
}

// mapError is the one place where an error becomes an HTTP status and an
// OpenAI error body.
func mapError(err error, passthrough bool) mapped {
	var (
		re  *openai.RequestError
		ae  *apiError
		nc  *relay.NoCredentialError
		ue  *upstream.Error
		mbe *http.MaxBytesError
		le  *keys.LimitError
		mna *keys.ModelNotAllowedError
	)
	switch {
	case errors.As(err, &re):
		return mapped{status: http.StatusBadRequest, body: openai.NewError(openai.TypeInvalidRequest, re.Code, re.Param, re.Message), kind: "invalid_request"}
	case errors.As(err, &mbe):
		return mapped{status: http.StatusRequestEntityTooLarge, body: openai.NewError(openai.TypeInvalidRequest, "request_too_large", "",
			fmt.Sprintf("request body larger than %d bytes; raise QWENRELAY_MAX_REQUEST_BYTES or send less", mbe.Limit)), kind: "request_too_large"}
	case errors.As(err, &le):
		return mapped{status: http.StatusTooManyRequests, body: openai.NewError(openai.TypeRateLimit, "rate_limit_exceeded", "",
			"API key limit reached ("+le.Limit+"): "+le.Message), retryAfter: le.RetryAfter, kind: "key_limit_" + le.Limit}
	case errors.As(err, &mna):
		return mapped{status: http.StatusForbidden, body: openai.NewError(openai.TypePermission, "model_not_allowed", "model", mna.Error()), kind: "model_not_allowed"}
	case errors.As(err, &ae):
		return mapped{status: ae.Status, body: openai.NewError(ae.Type, ae.Code, ae.Param, ae.Message), retryAfter: ae.RetryAfter, kind: ae.Code}
	case errors.As(err, &nc):
		if nc.RetryAfter > 0 {
			return mapped{status: http.StatusTooManyRequests, body: openai.NewError(openai.TypeRateLimit, "upstream_rate_limited", "", nc.Message), retryAfter: nc.RetryAfter, kind: "no_credential"}
		}
		return mapped{status: http.StatusServiceUnavailable, body: openai.NewError(openai.TypeServer, "no_upstream_account", "", nc.Message), kind: "no_credential"}
	case errors.As(err, &ue):
		return mapUpstream(ue, passthrough)
	case errors.Is(err, context.Canceled):
		return mapped{status: StatusClientClosed, body: openai.NewError(openai.TypeInvalidRequest, "client_closed", "", "client closed the request"), kind: "client_gone"}
	case errors.Is(err, context.DeadlineExceeded):
		return mapped{status: http.StatusGatewayTimeout, body: openai.NewError(openai.TypeTimeout, "timeout", "", "the request timed out"), kind: "timeout"}
	}
	return mapped{status: http.StatusInternalServerError, body: openai.NewError(openai.TypeServer, "internal_error", "", "internal error; see the relay's log"), kind: "internal"}
}

func mapUpstream(ue *upstream.Error, passthrough bool) mapped {
	m := mapped{kind: ue.Kind.String(), retryAfter: ue.RetryAfter}
	detail := ue.Message
	if detail == "" {
		detail = ue.Kind.String()
	}
	// The status comes from the policy table; only a rejected token in
	// passthrough mode (the caller's own) is the caller's 401.
	m.status = ue.Kind.Policy().Status
	set := func(typ, code, msg string) mapped {
		m.body = openai.NewError(typ, code, "", msg)
		return m
	}
	switch ue.Kind {
	case upstream.KindNetwork:
		return set(openai.TypeUpstream, "upstream_unreachable", "could not reach Qwen Chat: "+detail)
	case upstream.KindTimeout:
		return set(openai.TypeTimeout, "upstream_timeout", "Qwen Chat did not answer in time: "+detail)
	case upstream.KindUnauthorized:
		if passthrough {
			m.status = http.StatusUnauthorized
			return set(openai.TypeAuthentication, "invalid_qwen_token",
				"Qwen Chat rejected your token (expired or invalid). Sign in at chat.qwen.ai, copy localStorage 'token' from the browser's developer tools, and send it as the Bearer token.")
		}
		return set(openai.TypeUpstream, "upstream_auth_failed",
			"Qwen Chat rejected the relay's configured token (expired or invalid); the operator must replace it (QWENRELAY_QWEN_TOKENS).")
	case upstream.KindRateLimited:
		return set(openai.TypeRateLimit, "upstream_rate_limited", "Qwen Chat is rate limiting this account: "+detail+retryHint(ue.RetryAfter))
	case upstream.KindQuota:
		return set(openai.TypeRateLimit, "upstream_quota_exceeded", "the Qwen account's usage quota is used up: "+detail+retryHint(ue.RetryAfter))
	case upstream.KindCaptcha, upstream.KindWAF:
		return set(openai.TypeUpstream, "upstream_verification_required",
			"Qwen Chat asked for human verification (captcha/WAF) and refused the request. Open chat.qwen.ai in a browser signed in with this account, pass the check, then retry; sending less text per request also helps.")
	case upstream.KindContentFilter:
		return set(openai.TypeInvalidRequest, "content_filter", "Qwen Chat's content filter refused the request: "+detail)
	case upstream.KindTooLarge:
		return set(openai.TypeInvalidRequest, "context_too_large", detail)
	case upstream.KindModelNotFound:
		return set(openai.TypeInvalidRequest, "model_not_found", detail)
	case upstream.KindBadRequest:
		return set(openai.TypeInvalidRequest, "upstream_bad_request", "Qwen Chat refused the request: "+detail)
	case upstream.KindEmpty:
		return set(openai.TypeUpstream, "upstream_empty_answer", "Qwen Chat returned an empty answer (often a sign of throttling or missing anti-bot headers); retry later")
	}
	return set(openai.TypeUpstream, "upstream_error", "Qwen Chat failed: "+detail)
}

func retryHint(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprintf(" (retry after %s)", d.Round(time.Second))
}

// retryAfterHeader formats a duration as whole seconds, rounded up.
func retryAfterHeader(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

package upstream

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an upstream failure. The protocol package decides the kind;
// everything else only switches on it.
type Kind uint8

// Kinds of upstream failure.
const (
	KindUnknown       Kind = iota
	KindNetwork            // transport failure (refused, reset, DNS)
	KindTimeout            // no first byte, or a silence between frames, longer than allowed
	KindUnauthorized       // 401/403: token expired, revoked or malformed
	KindRateLimited        // HTTP 429 or a short throttle
	KindQuota              // daily quota exhausted ("RateLimited" JSON, "Allocated quota exceeded")
	KindCaptcha            // captcha / risk-control JSON (FAIL_SYS_USER_VALIDATE)
	KindWAF                // WAF HTML page
	KindContentFilter      // data_inspection_failed
	KindTransient          // Bad_Request "Internal error", 5xx
	KindEmpty              // the stream completed without any content
	KindTooLarge           // request larger than the upstream accepts
	KindBadResponse        // malformed or unexpected answer
	KindModelNotFound      // the upstream does not know the model
	KindBadRequest         // the upstream refused the request as invalid (not retryable)
)

var kindNames = [...]string{
	KindUnknown:       "unknown",
	KindNetwork:       "network",
	KindTimeout:       "timeout",
	KindUnauthorized:  "unauthorized",
	KindRateLimited:   "rate_limited",
	KindQuota:         "quota",
	KindCaptcha:       "captcha",
	KindWAF:           "waf",
	KindContentFilter: "content_filter",
	KindTransient:     "transient",
	KindEmpty:         "empty",
	KindTooLarge:      "too_large",
	KindBadResponse:   "bad_response",
	KindModelNotFound: "model_not_found",
	KindBadRequest:    "bad_request",
}

// String returns a stable snake_case name, used in logs and metric labels.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Kinds lists every kind, for pre-registering metric label values.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindNames))
	for k := range kindNames {
		out = append(out, Kind(k))
	}
	return out
}

// Error is a classified upstream failure. Message is safe to show to a
// client: it never contains a token. Detail may hold upstream text for logs.
type Error struct {
	Kind       Kind
	Status     int           // upstream HTTP status, 0 if none
	Code       string        // upstream error code, if any
	Message    string        // human explanation, safe for clients
	RetryAfter time.Duration // how long the upstream asked us to wait, 0 if unknown
	URL        string        // captcha/punish URL, for operators (not sent to clients)
	Err        error         // underlying cause, if any
}

func (e *Error) Error() string {
	s := "upstream " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, KindUnknown if it is not an *Error.
func KindOf(err error) Kind {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Kind
	}
	return KindUnknown
}

// AsError returns err as *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var ue *Error
	ok := errors.As(err, &ue)
	return ue, ok
}

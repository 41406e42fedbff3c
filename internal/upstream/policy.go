package upstream

import "net/http"

// Class says whose fault a failure is and how long it lasts.
type Class uint8

// Classes of failure.
const (
	// ClassRequest failures belong to the request (too large, refused by
	// the content filter, unknown model): another attempt fails the same
	// way, and the account is not to blame.
	ClassRequest Class = iota
	// ClassSoft failures are transient (empty answer, 5xx, cut stream,
	// timeout, a short 429): retried, even on the same account, and held
	// against the account only as a decaying penalty that lowers its
	// priority. A soft failure never takes an account out of service.
	ClassSoft
	// ClassHard failures belong to the account (daily quota, rejected
	// token, captcha): never retried with the same credential; the account
	// is out until the cause is gone.
	ClassHard
)

func (c Class) String() string {
	switch c {
	case ClassSoft:
		return "soft"
	case ClassHard:
		return "hard"
	}
	return "request"
}

// Effect is what a failure does to the account that served the attempt.
type Effect uint8

// Effects on the account.
const (
	EffectNone       Effect = iota // nothing: the request's fault
	EffectPenalty                  // a decaying soft penalty (and the upstream's Retry-After, if any)
	EffectRelogin                  // sign in again; invalid only when the token is confirmed dead
	EffectQuota                    // out until the quota resets
	EffectQuarantine               // out until a probe passes or an operator lifts it
)

// Policy is how the relay, the pool and the API surfaces treat one kind of
// upstream failure. It is decided here, once, in the table below.
type Policy struct {
	Class Class
	// Retry: another attempt (before anything reached the client) may
	// succeed.
	Retry bool
	// SameCredential: that attempt may use the same credential (when no
	// other is eligible). Hard failures never may.
	SameCredential bool
	// Effect on the account.
	Effect Effect
	// Status is the HTTP status an API surface answers with when the
	// failure is final.
	Status int
}

// policies is THE table. README.md's "What happens when Qwen fails" section
// mirrors it; change both together.
var policies = [...]Policy{
	KindUnknown:       {ClassRequest, false, false, EffectNone, http.StatusBadGateway},
	KindNetwork:       {ClassSoft, true, true, EffectPenalty, http.StatusBadGateway},
	KindTimeout:       {ClassSoft, true, true, EffectPenalty, http.StatusGatewayTimeout},
	KindUnauthorized:  {ClassHard, true, false, EffectRelogin, http.StatusBadGateway},
	KindRateLimited:   {ClassSoft, true, true, EffectPenalty, http.StatusTooManyRequests},
	KindQuota:         {ClassHard, true, false, EffectQuota, http.StatusTooManyRequests},
	KindCaptcha:       {ClassHard, true, false, EffectQuarantine, http.StatusServiceUnavailable},
	KindWAF:           {ClassHard, true, false, EffectQuarantine, http.StatusServiceUnavailable},
	KindContentFilter: {ClassRequest, false, false, EffectNone, http.StatusBadRequest},
	KindTransient:     {ClassSoft, true, true, EffectPenalty, http.StatusBadGateway},
	KindEmpty:         {ClassSoft, true, true, EffectPenalty, http.StatusBadGateway},
	KindTooLarge:      {ClassRequest, false, false, EffectNone, http.StatusRequestEntityTooLarge},
	KindBadResponse:   {ClassSoft, true, true, EffectPenalty, http.StatusBadGateway},
	KindModelNotFound: {ClassRequest, false, false, EffectNone, http.StatusNotFound},
	KindBadRequest:    {ClassRequest, false, false, EffectNone, http.StatusBadRequest},
}

// Policy returns the kind's row of the policy table.
func (k Kind) Policy() Policy {
	if int(k) < len(policies) {
		return policies[k]
	}
	return policies[KindUnknown]
}

// Retryable reports whether another attempt may succeed.
func (k Kind) Retryable() bool { return k.Policy().Retry }

// PolicyOf returns the policy of any error: the table's row for an
// upstream *Error, the request class (no retry, no effect) otherwise.
func PolicyOf(err error) Policy { return KindOf(err).Policy() }

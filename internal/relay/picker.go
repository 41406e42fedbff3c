package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Lease is the right to use one credential for one upstream attempt.
type Lease interface {
	Credential() upstream.Credential
	// Release returns the credential with the attempt's outcome: nil on
	// success, the upstream error otherwise. Context errors (the client went
	// away) must not be held against the credential.
	Release(outcome error)
}

// Picker chooses credentials. tried holds the IDs already used by this
// request, so a retry can move to another one.
type Picker interface {
	Acquire(ctx context.Context, model string, tried []string) (Lease, error)
}

// NoCredentialError says why no credential could be used.
type NoCredentialError struct {
	Message    string
	RetryAfter time.Duration // > 0 when every credential is cooling down
}

func (e *NoCredentialError) Error() string { return e.Message }

// StaticPicker rotates over a fixed set of tokens. A token answered with a
// rate limit or quota is skipped until its Retry-After passes. It is the
// simple picker of the core relay; the account pool replaces it.
type StaticPicker struct {
	now   func() time.Time
	mu    sync.Mutex
	creds []upstream.Credential
	cool  []time.Time
	next  int
}

// NewStaticPicker builds a picker over tokens; IDs are "token-1", "token-2"…
func NewStaticPicker(tokens []string, now func() time.Time) *StaticPicker {
	if now == nil {
		now = time.Now
	}
	p := &StaticPicker{now: now, creds: make([]upstream.Credential, len(tokens)), cool: make([]time.Time, len(tokens))}
	for i, t := range tokens {
		p.creds[i] = upstream.Credential{ID: fmt.Sprintf("token-%d", i+1), Token: t}
	}
	return p
}

// Acquire picks the next token in rotation that is not cooling down,
// preferring tokens this request has not tried yet.
func (p *StaticPicker) Acquire(ctx context.Context, _ string, tried []string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.creds) == 0 {
		return nil, &NoCredentialError{Message: "no Qwen token is configured"}
	}
	now := p.now()
	best, bestUntried := -1, false
	var soonest time.Time
	for k := 0; k < len(p.creds); k++ {
		i := (p.next + k) % len(p.creds)
		if now.Before(p.cool[i]) {
			if soonest.IsZero() || p.cool[i].Before(soonest) {
				soonest = p.cool[i]
			}
			continue
		}
		untried := !contains(tried, p.creds[i].ID)
		if best < 0 || (untried && !bestUntried) {
			best, bestUntried = i, untried
		}
		if untried {
			break
		}
	}
	if best < 0 {
		return nil, &NoCredentialError{
			Message:    fmt.Sprintf("every Qwen token is rate-limited or out of quota; retry after %s", soonest.Sub(now).Round(time.Second)),
			RetryAfter: soonest.Sub(now),
		}
	}
	p.next = (best + 1) % len(p.creds)
	return &staticLease{p: p, i: best}, nil
}

type staticLease struct {
	p *StaticPicker
	i int
}

func (l *staticLease) Credential() upstream.Credential { return l.p.creds[l.i] }

func (l *staticLease) Release(outcome error) {
	ue, ok := upstream.AsError(outcome)
	if !ok || errors.Is(outcome, context.Canceled) {
		return
	}
	if (ue.Kind == upstream.KindRateLimited || ue.Kind == upstream.KindQuota) && ue.RetryAfter > 0 {
		l.p.mu.Lock()
		l.p.cool[l.i] = l.p.now().Add(ue.RetryAfter)
		l.p.mu.Unlock()
	}
}

// SinglePicker always hands out one credential (passthrough mode: the
// client's own token).
type SinglePicker struct{ Cred upstream.Credential }

// Acquire implements Picker.
func (p SinglePicker) Acquire(ctx context.Context, _ string, _ []string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return singleLease(p), nil
}

type singleLease SinglePicker

func (l singleLease) Credential() upstream.Credential { return l.Cred }
func (l singleLease) Release(error)                   {}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

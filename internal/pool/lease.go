package pool

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// lease is one account slot handed to the relay.
type lease struct {
	p    *Pool
	e    *entry
	id   int64
	cred upstream.Credential
	gen  uint64
	done atomic.Bool
}

// Credential implements relay.Lease.
func (l *lease) Credential() upstream.Credential { return l.cred }

// AccountID names the account behind the lease (usage records).
func (l *lease) AccountID() int64 { return l.id }

// Release implements relay.Lease: it frees the slot, then applies the
// outcome to the account. A rejected token is re-logged in before Release
// returns, so the relay's next Acquire sees the new token. Only the first
// call counts.
func (l *lease) Release(outcome error) {
	if !l.done.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.p.opts.CallTimeout)
	defer cancel()
	// Demote (or re-login) before the slot is freed, so a waiter woken by
	// the release cannot take an account that is about to be cooled.
	l.p.apply(ctx, l.e, l.gen, outcome)
	if err := l.p.live.Release(ctx, l.id); err != nil {
		l.p.log.Warn("account slot not released", slog.Int64("account", l.id), slog.String("error", err.Error()))
	}
	l.p.notify()
}

// apply holds an attempt's outcome against the account (or not).
func (p *Pool) apply(ctx context.Context, e *entry, gen uint64, outcome error) {
	if outcome == nil {
		p.succeeded(e)
		return
	}
	if errors.Is(outcome, context.Canceled) {
		return // the client went away
	}
	ue, ok := upstream.AsError(outcome)
	if !ok {
		return // not the upstream's doing (client deadline, local error)
	}
	now := p.opts.Now()
	switch ue.Kind {
	case upstream.KindContentFilter, upstream.KindTooLarge, upstream.KindBadRequest,
		upstream.KindModelNotFound, upstream.KindBadResponse, upstream.KindUnknown:
		return // the request's doing, or not the account's
	}
	streak := p.failed(e)
	switch ue.Kind {
	case upstream.KindUnauthorized:
		p.reauth(ctx, e, gen)
	case upstream.KindCaptcha:
		p.demote(ctx, e, store.StateQuarantined, "captcha: an admin must solve it", time.Time{}, ue.URL)
	case upstream.KindWAF:
		p.demote(ctx, e, store.StateQuarantined, "WAF block page: an admin must check the account and its IP", time.Time{}, ue.URL)
	case upstream.KindQuota:
		until := nextReset(now, p.opts.QuotaResetLocation)
		if ue.RetryAfter > 0 {
			until = now.Add(ue.RetryAfter)
		}
		p.demote(ctx, e, store.StateCooling, "daily quota", until, "")
	case upstream.KindRateLimited:
		d := ue.RetryAfter
		if d <= 0 {
			d = p.opts.RateLimitCooldown
		}
		p.demote(ctx, e, store.StateCooling, "rate limited", now.Add(d), "")
	case upstream.KindEmpty:
		p.demote(ctx, e, store.StateCooling, "empty answer", now.Add(p.opts.EmptyCooldown), "")
	case upstream.KindNetwork, upstream.KindTimeout, upstream.KindTransient:
		if streak >= p.opts.FailureThreshold {
			p.resetConsec(e)
			p.demote(ctx, e, store.StateCooling, "upstream failures in a row", now.Add(p.opts.FailureCooldown), "")
		}
	}
}

// succeeded clears the failure streak. LastUsedAt is saved by Run, not
// on every request.
func (p *Pool) succeeded(e *entry) {
	now := p.opts.Now()
	p.mu.Lock()
	e.consec = 0
	e.acct.LastUsedAt = now
	e.dirty = true
	p.mu.Unlock()
}

// failed counts a failure and returns the streak.
func (p *Pool) failed(e *entry) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.failures++
	e.consec++
	return e.consec
}

func (p *Pool) resetConsec(e *entry) {
	p.mu.Lock()
	e.consec = 0
	p.mu.Unlock()
}

// severity orders states: an outcome never moves an account to a milder
// state than the one it is in (a quota answer does not lift a quarantine),
// and never touches a disabled account.
var severity = map[store.AccountState]int{
	store.StateActive: 0, store.StateCooling: 1, store.StateQuarantined: 2, store.StateInvalid: 3, store.StateDisabled: 4,
}

// demote moves e to a worse state because of an outcome. A longer
// cool-down replaces a shorter one, never the reverse.
func (p *Pool) demote(ctx context.Context, e *entry, to store.AccountState, reason string, until time.Time, url string) {
	p.update(ctx, e, func(e *entry) bool {
		a := &e.acct
		cur, next := severity[a.State], severity[to]
		if cur > next || a.State == store.StateDisabled {
			return false
		}
		if cur == next && to == store.StateCooling && !until.After(a.CoolUntil) {
			return false
		}
		return setState(a, to, reason, until, url, p.opts.Now())
	})
}

// nextReset is the next 00:10 in loc after now: when a daily quota resets.
func nextReset(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	r := time.Date(t.Year(), t.Month(), t.Day(), 0, 10, 0, 0, loc)
	if !r.After(t) {
		r = r.AddDate(0, 0, 1)
	}
	return r
}

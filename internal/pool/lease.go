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

// Release implements relay.Lease: it applies the outcome to the account in
// memory, then frees the slot. Store writes and sign-ins run in the
// background (see Wait), never on the request's close path. Only the first
// call counts.
func (l *lease) Release(outcome error) {
	if !l.done.CompareAndSwap(false, true) {
		return
	}
	// Demote before the slot is freed, so a waiter woken by the release
	// cannot take an account that is about to be taken out.
	l.p.apply(context.Background(), l.e, l.gen, outcome)
	ctx, cancel := context.WithTimeout(context.Background(), l.p.opts.CallTimeout)
	defer cancel()
	if err := l.p.live.Release(ctx, l.id); err != nil {
		l.p.log.Warn("account slot not released", slog.Int64("account", l.id), slog.String("error", err.Error()))
	}
	l.p.notify()
}

// apply holds an attempt's outcome against the account as the policy table
// (upstream.Kind.Policy) says: nothing for the request's own failures, a
// decaying penalty for soft ones, a sign-in, a quota cool-down or a
// quarantine for hard ones. It does not block: slow work goes to the
// background.
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
		return // not the upstream's doing (client deadline, local error, unused lease)
	}
	pol := ue.Kind.Policy()
	if pol.Effect == upstream.EffectNone {
		return
	}
	now := p.opts.Now()
	switch pol.Effect {
	case upstream.EffectPenalty:
		p.penalise(ctx, e, gen, ue, now)
	case upstream.EffectRelogin:
		p.countFailure(e)
		p.reauthLater(e, gen)
	case upstream.EffectQuota:
		p.countFailure(e)
		until := nextReset(now, p.opts.QuotaResetLocation)
		if ue.RetryAfter > 0 {
			until = now.Add(ue.RetryAfter)
		}
		p.demote(e, store.StateCooling, "daily quota", until, "")
	case upstream.EffectQuarantine:
		p.countFailure(e)
		reason := "captcha: solve it in a browser signed in with this account, then 'qwenrelay accounts enable'"
		if ue.Kind == upstream.KindWAF {
			reason = "WAF block page: check the account and its IP in a browser, then 'qwenrelay accounts enable'"
		}
		p.demote(e, store.StateQuarantined, reason, time.Time{}, ue.URL)
	}
}

// penalise records a soft failure: the account's priority drops for a
// time that doubles with every soft failure in a row (PenaltyBase up to
// PenaltyMax) and is cleared by a success. An upstream Retry-After keeps
// the account unused until it has passed.
func (p *Pool) penalise(ctx context.Context, e *entry, gen uint64, ue *upstream.Error, now time.Time) {
	p.mu.Lock()
	e.failures++
	if e.gen != gen {
		p.mu.Unlock()
		return // a failure of a token replaced since
	}
	e.consec++
	d := p.opts.PenaltyMax
	if shift := e.consec - 1; shift < 20 {
		d = min(p.opts.PenaltyBase<<shift, p.opts.PenaltyMax)
	}
	e.penaltyUntil = now.Add(d)
	if ue.RetryAfter > 0 && now.Add(ue.RetryAfter).After(e.retryAfter) {
		e.retryAfter = now.Add(ue.RetryAfter)
	}
	id, streak := e.acct.ID, e.consec
	p.mu.Unlock()
	p.log.LogAttrs(ctx, slog.LevelDebug, "account penalised", slog.Int64("account", id),
		slog.String("error_kind", ue.Kind.String()), slog.Int("failures_in_a_row", streak), slog.Duration("penalty", d),
		slog.Duration("retry_after", ue.RetryAfter))
}

// succeeded clears the soft penalty. LastUsedAt is saved by Run, not on
// every request.
func (p *Pool) succeeded(e *entry) {
	now := p.opts.Now()
	p.mu.Lock()
	e.consec, e.authStrikes = 0, 0
	e.penaltyUntil = time.Time{}
	e.acct.LastUsedAt = now
	e.dirty = true
	p.mu.Unlock()
}

func (p *Pool) countFailure(e *entry) {
	p.mu.Lock()
	e.failures++
	p.mu.Unlock()
}

// severity orders states: an outcome never moves an account to a milder
// state than the one it is in (a quota answer does not lift a quarantine),
// and never touches a disabled account.
var severity = map[store.AccountState]int{
	store.StateActive: 0, store.StateCooling: 1, store.StateQuarantined: 2, store.StateInvalid: 3, store.StateDisabled: 4,
}

// demote moves e to a worse state because of an outcome, at once in memory;
// the record is saved in the background. A longer cool-down replaces a
// shorter one, never the reverse.
func (p *Pool) demote(e *entry, to store.AccountState, reason string, until time.Time, url string) {
	p.updateLater(e, func(e *entry) bool {
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

// saveLater writes e's record in the background. Requests made while a
// write is queued share it: the write reads the record when it runs.
func (p *Pool) saveLater(e *entry) {
	if e.saveQueued.Swap(true) {
		return
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		e.saveQueued.Store(false) // changes from here on queue another write
		p.save(context.Background(), e)
	}()
}

// reauthLater signs the account in again (or confirms its token is dead)
// in the background. Until that ends the account is not handed out:
// Acquire waits for it, so a retry of the failed request gets the new
// token.
func (p *Pool) reauthLater(e *entry, gen uint64) {
	p.mu.Lock()
	if e.gen != gen || e.relogging {
		p.mu.Unlock()
		return
	}
	e.relogging = true
	p.mu.Unlock()
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		p.reauth(context.Background(), e, gen)
		p.mu.Lock()
		e.relogging = false
		p.mu.Unlock()
		p.notify()
	}()
}

// Wait blocks until the background saves and sign-ins started by released
// leases are done. Call it at shutdown, once no request is running (a
// WaitGroup must not gain work while it is waited on).
func (p *Pool) Wait() { p.bg.Wait() }

// waitReauth waits until e's background sign-in (if any) has ended.
func (p *Pool) waitReauth(ctx context.Context, e *entry) {
	for {
		p.mu.Lock()
		busy, wake := e.relogging, p.wake
		p.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

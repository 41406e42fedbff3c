package pool

import (
	"context"
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Run does the background work until ctx is done: it re-reads the store
// and saves last-use times every ReloadInterval, and every HealthInterval
// (or QuarantineProbe when shorter; and once at start) re-logs in accounts
// whose token expires within RefreshBefore, warns about expiring tokens
// without a password, probes cooling accounts whose time is up and
// quarantined ones whose re-probe is due. It runs everything in its own
// goroutine and starts no other.
func (p *Pool) Run(ctx context.Context) {
	reload := time.NewTicker(p.opts.ReloadInterval)
	defer reload.Stop()
	every := p.opts.HealthInterval
	if q := p.opts.QuarantineProbe; q > 0 && q < every {
		every = q
	}
	health := time.NewTicker(every)
	defer health.Stop()
	defer p.clients.closeIdle()
	p.maintain(ctx)
	for {
		select {
		case <-ctx.Done():
			p.flush(context.WithoutCancel(ctx))
			return
		case <-reload.C:
			p.flush(ctx)
			if err := p.Load(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("accounts not reloaded", slog.String("error", err.Error()))
			}
		case <-health.C:
			p.maintain(ctx)
		}
	}
}

// maintain runs the token refresh and the health checks once.
func (p *Pool) maintain(ctx context.Context) {
	p.refreshTokens(ctx)
	p.checkHealth(ctx)
}

// refreshTokens re-logs in accounts with a password whose token expires
// within RefreshBefore, and warns (once a day per account) about the
// others.
func (p *Pool) refreshTokens(ctx context.Context) {
	now := p.opts.Now()
	type due struct {
		e   *entry
		gen uint64
	}
	var relog []due
	p.mu.Lock()
	for _, e := range p.order {
		a := &e.acct
		if a.TokenExpiry.IsZero() || a.TokenExpiry.Sub(now) > p.opts.RefreshBefore {
			continue
		}
		if a.State != store.StateActive && a.State != store.StateCooling {
			continue
		}
		if a.Email != "" && a.Password != "" {
			relog = append(relog, due{e, e.gen})
			continue
		}
		if now.Sub(e.lastWarn) >= 24*time.Hour {
			e.lastWarn = now
			msg := "account token expires soon and the account has no password; add a fresh token"
			if !a.TokenExpiry.After(now) {
				msg = "account token has expired and the account has no password; add a fresh token"
			}
			p.log.Warn(msg, slog.Int64("account", a.ID), slog.String("name", a.Name), slog.Time("token_expiry", a.TokenExpiry))
		}
	}
	p.mu.Unlock()
	for _, d := range relog {
		if ctx.Err() != nil {
			return
		}
		_ = p.relogin(ctx, d.e, d.gen)
	}
}

// quarantineProbe is the re-probe schedule of a quarantined account: the
// first probe QuarantineProbe after it was quarantined, then twice the
// previous gap after each failure, up to QuarantineProbeMax. A captcha
// usually shows on the answers, not on the model list the probe reads, so
// a probe may lift a quarantine the next request puts back: the gap keeps
// doubling over such rounds and starts again from QuarantineProbe only
// once the account has served a request since the last lift.
type quarantineProbe struct {
	since  time.Time     // StateSince of the quarantine being scheduled
	at     time.Time     // next probe
	gap    time.Duration // last gap used
	lifted time.Time     // when a probe last lifted a quarantine
}

// quarantineDueLocked reports whether e, quarantined, is due for a re-probe at now,
// scheduling it first if this quarantine has no schedule yet.
func (p *Pool) quarantineDueLocked(e *entry, now time.Time) bool {
	if p.opts.QuarantineProbe < 0 {
		return false
	}
	a, q := &e.acct, &e.quar
	if q.at.IsZero() || !sameTime(q.since, a.StateSince) {
		switch {
		case q.gap == 0 || a.LastUsedAt.After(q.lifted):
			q.gap = p.opts.QuarantineProbe
		default: // back in quarantine without a request served since the last lift
			q.gap = min(2*q.gap, p.opts.QuarantineProbeMax)
		}
		start := a.StateSince
		if start.IsZero() {
			start = now
		}
		q.since, q.at = a.StateSince, start.Add(q.gap)
	}
	return !now.Before(q.at)
}

// probedLocked updates e's quarantine schedule after a re-probe at now.
func (p *Pool) probedLocked(e *entry, now time.Time) {
	q := &e.quar
	if e.acct.State != store.StateQuarantined {
		q.lifted, q.at = now, time.Time{}
		return
	}
	q.gap = min(2*q.gap, p.opts.QuarantineProbeMax)
	q.since, q.at = e.acct.StateSince, now.Add(q.gap)
}

// checkHealth probes cooling accounts whose cool-down is over, and
// quarantined ones whose re-probe is due (see quarantineProbe).
func (p *Pool) checkHealth(ctx context.Context) {
	now := p.opts.Now()
	var due []*entry
	p.mu.Lock()
	for _, e := range p.order {
		a := &e.acct
		if (a.State == store.StateCooling && !a.CoolUntil.After(now)) ||
			(a.State == store.StateQuarantined && p.quarantineDueLocked(e, now)) {
			due = append(due, e)
		}
	}
	p.mu.Unlock()
	for _, e := range due {
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		quarantined := e.acct.State == store.StateQuarantined
		p.mu.Unlock()
		err := p.probe(ctx, e)
		if quarantined {
			p.mu.Lock()
			p.probedLocked(e, p.opts.Now())
			id, next, state := e.acct.ID, e.quar.at, e.acct.State
			p.mu.Unlock()
			if state == store.StateQuarantined {
				p.log.Info("quarantined account still blocked; will probe again",
					slog.Int64("account", id), slog.Time("next_probe", next))
			}
		}
		if err != nil && ctx.Err() == nil {
			p.log.Info("account health check failed", slog.String("error", err.Error()))
		}
	}
}

// flush saves the accounts whose last-use time changed.
func (p *Pool) flush(ctx context.Context) {
	var dirty []*entry
	p.mu.Lock()
	for _, e := range p.order {
		if e.dirty {
			dirty = append(dirty, e)
		}
	}
	p.mu.Unlock()
	for _, e := range dirty {
		p.save(ctx, e)
	}
}

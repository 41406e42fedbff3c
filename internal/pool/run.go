package pool

import (
	"context"
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Run does the background work until ctx is done: it re-reads the store
// and saves last-use times every ReloadInterval, and every HealthInterval
// (and once at start) re-logs in accounts whose token expires within
// RefreshBefore, warns about expiring tokens without a password and probes
// cooling accounts whose time is up (and quarantined ones with
// CheckQuarantined). It runs everything in its own goroutine and starts no
// other.
func (p *Pool) Run(ctx context.Context) {
	reload := time.NewTicker(p.opts.ReloadInterval)
	defer reload.Stop()
	health := time.NewTicker(p.opts.HealthInterval)
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

// checkHealth probes cooling accounts whose cool-down is over, and
// quarantined ones when CheckQuarantined is set.
func (p *Pool) checkHealth(ctx context.Context) {
	now := p.opts.Now()
	var due []*entry
	p.mu.Lock()
	for _, e := range p.order {
		a := &e.acct
		if (a.State == store.StateCooling && !a.CoolUntil.After(now)) ||
			(p.opts.CheckQuarantined && a.State == store.StateQuarantined) {
			due = append(due, e)
		}
	}
	p.mu.Unlock()
	for _, e := range due {
		if ctx.Err() != nil {
			return
		}
		if err := p.probe(ctx, e); err != nil && ctx.Err() == nil {
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

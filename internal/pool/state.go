package pool

import (
	"context"
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// change describes one state transition, reported after the lock is gone.
type change struct {
	id       int64
	name     string
	from, to store.AccountState
	reason   string
	until    time.Time
	loaded   bool // seen in the store, not decided here
}

// report logs a state change and tells the observer.
func (p *Pool) report(ctx context.Context, c change) {
	if c.from == c.to {
		return
	}
	level := slog.LevelInfo
	if c.to == store.StateQuarantined || c.to == store.StateInvalid {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.Int64("account", c.id), slog.String("name", c.name),
		slog.String("from", string(c.from)), slog.String("to", string(c.to)),
	}
	if c.reason != "" {
		attrs = append(attrs, slog.String("reason", c.reason))
	}
	if c.to == store.StateCooling && !c.until.IsZero() {
		attrs = append(attrs, slog.Time("cool_until", c.until))
	}
	if c.loaded {
		attrs = append(attrs, slog.Bool("from_store", true))
	}
	p.log.LogAttrs(ctx, level, "account state", attrs...)
	if p.obs != nil {
		p.obs.StateChange(c.from, c.to)
	}
}

// update runs mut on e under the lock. When mut reports a change, the state
// transition (if any) is logged and observed and the record is saved.
func (p *Pool) update(ctx context.Context, e *entry, mut func(e *entry) bool) bool {
	c, ok := p.mutate(e, mut)
	if !ok {
		return false
	}
	p.report(ctx, c)
	p.save(ctx, e)
	if c.to == store.StateActive && c.from != store.StateActive {
		p.notify()
	}
	return true
}

// updateLater is update with the store write in the background: for
// outcomes applied on a request's close path.
func (p *Pool) updateLater(e *entry, mut func(e *entry) bool) bool {
	c, ok := p.mutate(e, mut)
	if !ok {
		return false
	}
	p.report(context.Background(), c)
	p.saveLater(e)
	if c.to == store.StateActive && c.from != store.StateActive {
		p.notify()
	}
	return true
}

// mutate runs mut on e under the lock and describes the change it made.
func (p *Pool) mutate(e *entry, mut func(e *entry) bool) (change, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.removed {
		return change{}, false
	}
	from := e.acct.State
	if !mut(e) {
		return change{}, false
	}
	a := &e.acct
	return change{id: a.ID, name: a.Name, from: from, to: a.State, reason: a.StateReason, until: a.CoolUntil}, true
}

// setState moves a record to state s. It reports whether anything changed.
func setState(a *store.Account, s store.AccountState, reason string, until time.Time, url string, now time.Time) bool {
	if a.State == s && a.StateReason == reason && a.CoolUntil.Equal(until) && a.PunishURL == url {
		return false
	}
	if a.State != s {
		a.StateSince = now
	}
	a.State, a.StateReason, a.CoolUntil, a.PunishURL = s, reason, until, url
	return true
}

// save writes e's current record. Writes of one account are serialised,
// and each merges with what the store holds now, so a change made
// elsewhere (the CLI, another relay) since the last read is kept, not
// overwritten. (The store has no compare-and-swap: a change landing
// between the read and the write can still be lost.)
func (p *Pool) save(ctx context.Context, e *entry) {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CallTimeout)
	defer cancel()
	p.mu.Lock()
	if e.removed {
		p.mu.Unlock()
		return
	}
	id := e.acct.ID
	p.mu.Unlock()
	cur, err := p.st.GetAccount(ctx, id)
	if err == nil {
		p.mu.Lock()
		rec := merge(cur, &e.saved, &e.acct)
		e.dirty = false
		p.mu.Unlock()
		rec.UpdatedAt = p.opts.Now()
		err = p.st.UpdateAccount(ctx, &rec)
		if err == nil {
			p.mu.Lock()
			c := p.adoptLocked(e, &rec)
			p.saveSeq++
			e.savedSeq = p.saveSeq
			p.mu.Unlock()
			c.loaded = true
			p.report(ctx, c)
			return
		}
	}
	p.log.Warn("account not saved", slog.Int64("account", id), slog.String("error", err.Error()))
	p.mu.Lock()
	e.dirty = true
	p.mu.Unlock()
}

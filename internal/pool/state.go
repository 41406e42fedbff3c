package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// maxSaveTries bounds the read-merge-write rounds of one save when other
// writers keep changing the record; what is not saved is tried again by
// the next flush.
const maxSaveTries = 8

// save writes e's current record. Writes of one account are serialised
// (saveMu), and each is a compare-and-swap on the record's version: it
// reads what the store holds now, applies the pool's own changes to it
// (merge: a field group the store changed since the pool last read it
// keeps the store's values, so an operator's disable, enable, token or
// limits are never overwritten) and writes it if nobody wrote meanwhile,
// else it starts again. It never recreates an account deleted from the
// store: the pool drops it instead. Safe to call from any goroutine.
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
	var err error
	for range maxSaveTries {
		var done bool
		if done, err = p.saveOnce(ctx, e, id); done || err != nil {
			break
		}
		err = store.ErrVersionConflict
	}
	switch {
	case err == nil:
		return
	case errors.Is(err, store.ErrNotFound):
		p.drop(ctx, e, "deleted from the store")
		return
	case errors.Is(err, store.ErrVersionConflict):
		err = fmt.Errorf("the record kept changing (%d tries): %w", maxSaveTries, err)
	}
	p.log.Warn("account not saved", slog.Int64("account", id), slog.String("error", err.Error()))
	p.mu.Lock()
	e.dirty = true
	p.mu.Unlock()
}

// saveOnce makes one read-merge-compare-and-swap round. It reports done
// when the record is saved (or had nothing to save), false with a nil
// error when another writer came first.
func (p *Pool) saveOnce(ctx context.Context, e *entry, id int64) (bool, error) {
	cur, err := p.st.GetAccount(ctx, id)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	if e.removed {
		p.mu.Unlock()
		return true, nil
	}
	ours := cloneAccount(&e.acct)
	rec := merge(cur, &e.saved, &ours)
	e.dirty = false
	p.mu.Unlock()
	if sameRecord(&rec, cur) && sameTime(rec.LastUsedAt, cur.LastUsedAt) {
		p.installWritten(ctx, e, &rec, &ours) // nothing to write: adopt what is stored
		return true, nil
	}
	rec.Version = cur.Version
	p.mu.Lock()
	e.writing = true
	p.mu.Unlock()
	err = p.st.UpdateAccount(ctx, &rec)
	if err != nil {
		p.mu.Lock()
		e.writing = false
		p.mu.Unlock()
	}
	if errors.Is(err, store.ErrVersionConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.installWritten(ctx, e, &rec, &ours)
	return true, nil
}

// installWritten makes rec, just read or written, the entry's saved
// record. Changes the pool made since ours (the record the write was merged
// from) are kept for the next save; in the groups where the store won the
// merge, its values replace the pool's.
func (p *Pool) installWritten(ctx context.Context, e *entry, rec, ours *store.Account) {
	p.mu.Lock()
	e.writing = false
	if e.removed {
		p.mu.Unlock()
		return
	}
	c := change{id: rec.ID, name: rec.Name, from: e.acct.State, loaded: true}
	oldToken, oldProxy := e.acct.Token, e.acct.Proxy
	e.acct = merge(rec, ours, &e.acct)
	e.saved = cloneAccount(rec)
	e.models = modelSet(e.acct.Models)
	if e.acct.Token != oldToken {
		e.gen++
		e.consec = 0
	}
	if e.acct.Proxy != oldProxy {
		p.setClientLocked(e)
	}
	p.saveSeq++
	e.savedSeq = p.saveSeq
	c.to, c.reason = e.acct.State, e.acct.StateReason
	p.mu.Unlock()
	p.report(ctx, c)
}

// drop removes an entry whose account is gone from the store.
func (p *Pool) drop(ctx context.Context, e *entry, reason string) {
	p.mu.Lock()
	if e.removed {
		p.mu.Unlock()
		return
	}
	e.removed = true
	if p.entries[e.acct.ID] == e {
		delete(p.entries, e.acct.ID)
		p.rebuildOrderLocked()
	}
	c := change{id: e.acct.ID, name: e.acct.Name, from: e.acct.State, reason: reason, loaded: true}
	p.mu.Unlock()
	p.report(ctx, c)
}

// merge returns cur (the store's record) with the pool's own changes, from
// base (the record the pool last read or wrote) to ours, applied group by
// group: token (token, expiry), state (state, reason, since, cool-down,
// punish URL) and models. A group the store changed since base keeps the
// store's values even when the pool changed it too: the operator wins (a
// disabled account stays disabled, an enabled one enabled, a replaced token
// replaced). Fields only operators change (name, e-mail, password, proxy,
// limits) always come from cur; the last-use time is the later of the two.
func merge(cur, base, ours *store.Account) store.Account {
	m := cloneAccount(cur)
	mine := func(same func(a, b *store.Account) bool) bool { return same(cur, base) && !same(ours, base) }
	if mine(sameToken) {
		m.Token, m.TokenExpiry = ours.Token, ours.TokenExpiry
	}
	if mine(sameState) {
		m.State, m.StateReason, m.StateSince = ours.State, ours.StateReason, ours.StateSince
		m.CoolUntil, m.PunishURL = ours.CoolUntil, ours.PunishURL
	}
	if mine(func(a, b *store.Account) bool { return slices.Equal(a.Models, b.Models) }) {
		m.Models = slices.Clone(ours.Models)
	}
	if ours.LastUsedAt.After(m.LastUsedAt) {
		m.LastUsedAt = ours.LastUsedAt
	}
	return m
}

func sameToken(a, b *store.Account) bool {
	return a.Token == b.Token && sameTime(a.TokenExpiry, b.TokenExpiry)
}

func sameState(a, b *store.Account) bool {
	return a.State == b.State && a.StateReason == b.StateReason && sameTime(a.StateSince, b.StateSince) &&
		sameTime(a.CoolUntil, b.CoolUntil) && a.PunishURL == b.PunishURL
}

// sameTime compares at the store's precision (milliseconds), so a time
// written by the pool equals the same time read back.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.UnixMilli() == b.UnixMilli()
}

package pool

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// candidate is an eligible account seen by one Acquire pass.
type candidate struct {
	e            *entry
	id           int64
	max          int
	pace         Pace
	lastPick     time.Time
	inFlight     int
	avoided      bool      // failed softly for this request: a last resort
	penaltyUntil time.Time // soft penalty: lower priority until then
	notBefore    time.Time // the upstream's Retry-After: not used before then
	penalised    bool      // penaltyUntil is after now (set by eligible)
}

// less orders candidates: accounts this request has not failed on first,
// then accounts without a soft penalty, the least penalised among the
// others (a penalty lowers priority, it never refuses a request), then the
// fewest requests in flight, the least recently picked, the lowest id.
func (c *candidate) less(d *candidate) bool {
	if c.avoided != d.avoided {
		return d.avoided
	}
	if c.penalised != d.penalised {
		return d.penalised
	}
	if c.penalised && !c.penaltyUntil.Equal(d.penaltyUntil) {
		return c.penaltyUntil.Before(d.penaltyUntil)
	}
	if c.inFlight != d.inFlight {
		return c.inFlight < d.inFlight
	}
	if !c.lastPick.Equal(d.lastPick) {
		return c.lastPick.Before(d.lastPick)
	}
	return c.id < d.id
}

// Acquire implements relay.Picker: it leases the best eligible account (see
// candidate.less) that is not excluded by w. When every eligible account is
// busy, pacing, signing in again or under an upstream Retry-After it waits,
// up to AcquireTimeout. When none is eligible, or the wait would be longer
// than that, it returns a *relay.NoCredentialError saying why.
func (p *Pool) Acquire(ctx context.Context, w relay.Want) (relay.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	model := strings.ToLower(w.Model)
	var timeout <-chan time.Time
	var deadline time.Time
	buf := p.bufs.Get().(*[]candidate)
	defer func() {
		clear(*buf) // drop the entry pointers
		p.bufs.Put(buf)
	}()
	for {
		cands, wake, err := p.eligible(ctx, *buf, model, &w)
		*buf = cands
		if err != nil {
			return nil, err
		}
		var pace time.Duration
		if len(cands) > 0 {
			var l relay.Lease
			if l, pace, err = p.take(ctx, cands); err != nil || l != nil {
				return l, err
			}
		}
		if timeout == nil {
			t := time.NewTimer(p.opts.AcquireTimeout)
			defer t.Stop()
			timeout, deadline = t.C, p.opts.Now().Add(p.opts.AcquireTimeout)
		}
		if pace > 0 && p.opts.Now().Add(pace).After(deadline) && allHeldBack(cands, p.opts.Now()) {
			return nil, &relay.NoCredentialError{RetryAfter: pace, Message: fmt.Sprintf(
				"the upstream asked to wait %s before the next request on every eligible account", pace.Round(time.Second))}
		}
		var paceC <-chan time.Time
		var paceT *time.Timer
		if pace > 0 {
			paceT = time.NewTimer(pace)
			paceC = paceT.C
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-timeout:
			err = &relay.NoCredentialError{Message: fmt.Sprintf(
				"all %d eligible upstream accounts stayed busy for %s; try again later", max(len(cands), 1), p.opts.AcquireTimeout)}
		case <-wake:
		case <-paceC:
		}
		if paceT != nil {
			paceT.Stop()
		}
		if err != nil {
			return nil, err
		}
	}
}

// allHeldBack reports whether every candidate is under an upstream
// Retry-After (rather than merely busy).
func allHeldBack(cands []candidate, now time.Time) bool {
	for i := range cands {
		if !cands[i].notBefore.After(now) {
			return false
		}
	}
	return true
}

// eligible lists the accounts that may serve model now, with the channel
// closed on the next release. A cooling account whose time is up becomes
// active here. With no candidate and nothing to wait for (a sign-in in
// progress) it returns a *relay.NoCredentialError.
func (p *Pool) eligible(ctx context.Context, buf []candidate, model string, w *relay.Want) ([]candidate, <-chan struct{}, error) {
	now := p.opts.Now()
	var cs census
	var woke []*entry
	p.mu.Lock()
	cands := buf[:0]
	for _, e := range p.order {
		a := &e.acct
		if w.Account > 0 && a.ID != w.Account {
			continue
		}
		if a.State == store.StateCooling && !a.CoolUntil.After(now) {
			setState(a, store.StateActive, "cool-down over", time.Time{}, "", now)
			woke = append(woke, e)
		}
		if e.models != nil && model != "" {
			if _, ok := e.models[model]; !ok {
				cs.noModel++
				continue
			}
		}
		if a.State != store.StateActive {
			cs.count(a)
			continue
		}
		if e.relogging {
			// A new token is coming: wait for it, even when the old one
			// already failed for this request.
			cs.relogging++
			continue
		}
		id := e.credID()
		if w.Excludes(id) {
			cs.tried++
			continue
		}
		cands = append(cands, candidate{e: e, id: a.ID, lastPick: e.lastPick,
			max:     orDefault(a.MaxConcurrent, p.opts.MaxConcurrent),
			pace:    p.paceOf(a),
			avoided: w.Avoids(id), penaltyUntil: e.penaltyUntil, penalised: e.penaltyUntil.After(now),
			notBefore: e.retryAfter})
	}
	wake := p.wake
	cs.total = len(p.order)
	p.mu.Unlock()
	for _, e := range woke {
		p.reportReactivated(ctx, e, now)
	}
	if len(cands) == 0 && cs.relogging == 0 {
		return nil, nil, cs.err(model, now)
	}
	return cands, wake, nil
}

// paceOf is the pacing of account a: its own minimum interval when it has
// one (PaceEvery, the meaning it always had; < 0 = none), else the pool's.
func (p *Pool) paceOf(a *store.Account) Pace {
	switch {
	case a.MinInterval > 0:
		return PaceEvery(a.MinInterval)
	case a.MinInterval < 0:
		return Pace{}
	}
	return p.pace
}

func (p *Pool) reportReactivated(ctx context.Context, e *entry, now time.Time) {
	p.mu.Lock()
	c := change{id: e.acct.ID, name: e.acct.Name, from: store.StateCooling, to: store.StateActive, reason: "cool-down over"}
	p.mu.Unlock()
	p.report(ctx, c)
	p.saveLater(e)
}

// take leases the best candidate that has a free slot, a pacing token and
// no Retry-After pending. With none it returns how long to wait for the
// first pacing token or Retry-After to come (0: wait for a release only).
func (p *Pool) take(ctx context.Context, cands []candidate) (relay.Lease, time.Duration, error) {
	if err := p.inFlight(ctx, cands); err != nil {
		return nil, 0, fmt.Errorf("pool: live state: %w", err)
	}
	best := 0
	for i := 1; i < len(cands); i++ {
		if cands[i].less(&cands[best]) {
			best = i
		}
	}
	cands[0], cands[best] = cands[best], cands[0]
	var pace time.Duration
	wait := func(d time.Duration) {
		d = max(d, time.Millisecond)
		if pace == 0 || d < pace {
			pace = d
		}
	}
	for i := range cands {
		if i == 1 {
			rest := cands[1:]
			slices.SortFunc(rest, func(a, b candidate) int {
				if a.less(&b) {
					return -1
				}
				return 1
			})
		}
		c := &cands[i]
		now := p.opts.Now()
		if c.notBefore.After(now) {
			wait(c.notBefore.Sub(now))
			continue
		}
		ok, paceWait, err := p.live.TryAcquire(ctx, c.id, c.max, c.pace, now)
		if err != nil {
			return nil, 0, fmt.Errorf("pool: live state: %w", err)
		}
		if ok {
			p.mu.Lock()
			e := c.e
			e.lastPick = now
			e.requests++
			l := &lease{p: p, e: e, id: c.id, gen: e.gen,
				cred: upstream.Credential{ID: e.credID(), Token: e.acct.Token, HTTPClient: e.client}}
			p.mu.Unlock()
			return l, 0, nil
		}
		if paceWait > 0 {
			wait(paceWait)
		}
	}
	return nil, pace, nil
}

// inFlight reads the in-flight counts of the candidates, in one call when
// the live state can (inFlightBatch).
func (p *Pool) inFlight(ctx context.Context, cands []candidate) error {
	if b, ok := p.live.(inFlightBatch); ok {
		ids := make([]int64, len(cands))
		for i := range cands {
			ids[i] = cands[i].id
		}
		counts, err := b.InFlightMany(ctx, ids)
		if err != nil {
			return err
		}
		for i := range cands {
			cands[i].inFlight = counts[i]
		}
		return nil
	}
	for i := range cands {
		n, err := p.live.InFlight(ctx, cands[i].id)
		if err != nil {
			return err
		}
		cands[i].inFlight = n
	}
	return nil
}

// credID is the credential ID of the current token; guarded by Pool.mu.
func (e *entry) credID() string {
	if e.idGen != e.gen || e.id == "" {
		e.id = fmt.Sprintf("acct-%d.%d", e.acct.ID, e.gen)
		e.idGen = e.gen
	}
	return e.id
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	if v < 0 {
		return 0
	}
	return def
}

// census counts why accounts cannot serve a request.
type census struct {
	total, cooling, quarantined, invalid, disabled, noModel, tried, relogging int
	soonest                                                                   time.Time
	coolReason, quarantineReason, invalidReason                               string
}

func (c *census) count(a *store.Account) {
	switch a.State {
	case store.StateCooling:
		c.cooling++
		if c.soonest.IsZero() || a.CoolUntil.Before(c.soonest) {
			c.soonest, c.coolReason = a.CoolUntil, a.StateReason
		}
	case store.StateQuarantined:
		c.quarantined++
		c.quarantineReason = a.StateReason
	case store.StateInvalid:
		c.invalid++
		c.invalidReason = a.StateReason
	default:
		c.disabled++
	}
}

func (c *census) err(model string, now time.Time) *relay.NoCredentialError {
	if c.total == 0 {
		return &relay.NoCredentialError{Message: "no Qwen account is configured yet: add one with 'qwenrelay accounts add --token …', QWENRELAY_QWEN_TOKENS or the admin API"}
	}
	var parts []string
	if c.cooling > 0 {
		when := "until"
		if c.cooling > 1 {
			when = "the first until"
		}
		parts = append(parts, fmt.Sprintf("%d cooling down %s %s (%s)", c.cooling, when, formatUntil(c.soonest, now), c.coolReason))
	}
	if c.quarantined > 0 {
		parts = append(parts, fmt.Sprintf("%d quarantined (%s)", c.quarantined, c.quarantineReason))
	}
	if c.invalid > 0 {
		parts = append(parts, fmt.Sprintf("%d invalid (%s)", c.invalid, c.invalidReason))
	}
	if c.disabled > 0 {
		parts = append(parts, fmt.Sprintf("%d disabled", c.disabled))
	}
	if c.noModel > 0 {
		parts = append(parts, fmt.Sprintf("%d without model %q", c.noModel, model))
	}
	if c.tried > 0 {
		parts = append(parts, fmt.Sprintf("%d already failed for this request", c.tried))
	}
	e := &relay.NoCredentialError{Message: "no upstream account available: " + strings.Join(parts, ", ")}
	if c.cooling > 0 {
		e.RetryAfter = max(c.soonest.Sub(now), time.Second)
	}
	return e
}

// formatUntil formats t in UTC, with the date when it is not within a day.
func formatUntil(t, now time.Time) string {
	if t.Sub(now) < 24*time.Hour {
		return t.UTC().Format("15:04 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

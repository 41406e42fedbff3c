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
	e           *entry
	id          int64
	max         int
	minInterval time.Duration
	lastPick    time.Time
	inFlight    int
}

func (c *candidate) less(d *candidate) bool {
	if c.inFlight != d.inFlight {
		return c.inFlight < d.inFlight
	}
	if !c.lastPick.Equal(d.lastPick) {
		return c.lastPick.Before(d.lastPick)
	}
	return c.id < d.id
}

// Acquire implements relay.Picker: it leases the eligible account with the
// fewest requests in flight (ties: least recently picked) that is not in
// tried. When every eligible account is busy or pacing it waits for a
// release, up to AcquireTimeout. When none is eligible it returns a
// *relay.NoCredentialError saying why.
func (p *Pool) Acquire(ctx context.Context, model string, tried []string) (relay.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	model = strings.ToLower(model)
	var timeout <-chan time.Time
	buf := p.bufs.Get().(*[]candidate)
	defer func() {
		clear(*buf) // drop the entry pointers
		p.bufs.Put(buf)
	}()
	for {
		cands, wake, err := p.eligible(ctx, *buf, model, tried)
		*buf = cands
		if err != nil {
			return nil, err
		}
		l, pace, err := p.take(ctx, cands)
		if err != nil || l != nil {
			return l, err
		}
		if timeout == nil {
			t := time.NewTimer(p.opts.AcquireTimeout)
			defer t.Stop()
			timeout = t.C
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
				"all %d eligible upstream accounts stayed busy for %s; try again later", len(cands), p.opts.AcquireTimeout)}
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

// eligible lists the accounts that may serve model now, with the channel
// closed on the next release. A cooling account whose time is up becomes
// active here. With no candidate it returns a *relay.NoCredentialError.
func (p *Pool) eligible(ctx context.Context, buf []candidate, model string, tried []string) ([]candidate, <-chan struct{}, error) {
	now := p.opts.Now()
	var cs census
	var woke []*entry
	p.mu.Lock()
	cands := buf[:0]
	for _, e := range p.order {
		a := &e.acct
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
		if len(tried) > 0 && slices.Contains(tried, e.credID()) {
			cs.tried++
			continue
		}
		cands = append(cands, candidate{e: e, id: a.ID, lastPick: e.lastPick,
			max:         orDefault(a.MaxConcurrent, p.opts.MaxConcurrent),
			minInterval: orDefault(a.MinInterval, p.opts.MinInterval)})
	}
	wake := p.wake
	cs.total = len(p.order)
	p.mu.Unlock()
	for _, e := range woke {
		p.reportReactivated(ctx, e, now)
	}
	if len(cands) == 0 {
		return nil, nil, cs.err(model, now)
	}
	return cands, wake, nil
}

func (p *Pool) reportReactivated(ctx context.Context, e *entry, now time.Time) {
	p.mu.Lock()
	c := change{id: e.acct.ID, name: e.acct.Name, from: store.StateCooling, to: store.StateActive, reason: "cool-down over"}
	p.mu.Unlock()
	p.report(ctx, c)
	p.save(ctx, e)
}

// take leases the best candidate that has a free slot. With none it
// returns how long to wait for pacing (0: wait for a release only).
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
		ok, err := p.live.TryAcquire(ctx, c.id, c.max, c.minInterval, now)
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
		if c.inFlight < c.max && c.minInterval > 0 {
			wait := c.lastPick.Add(c.minInterval).Sub(now)
			if wait <= 0 || wait > c.minInterval {
				wait = c.minInterval / 4
			}
			wait = max(wait, time.Millisecond)
			if pace == 0 || wait < pace {
				pace = wait
			}
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
	total, cooling, quarantined, invalid, disabled, noModel, tried int
	soonest                                                        time.Time
	coolReason, quarantineReason, invalidReason                    string
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
		return &relay.NoCredentialError{Message: "no upstream account is configured; add one with the admin API"}
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

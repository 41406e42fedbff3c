package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// AddOptions tune AddAccount.
type AddOptions struct {
	// NoCheck stores the account without probing it upstream (an e-mail
	// and password still sign in, to get a token). The caller checks the
	// token's shape.
	NoCheck bool
}

// AddAccount checks and adds an account given by a token, or by an e-mail
// and password (it signs in first). The token's expiry is decoded, the
// model list probed to fill Models, and the account saved and put to use.
// A token or sign-in the upstream refuses is an error and nothing is saved.
// An account the upstream answers with a captcha or a WAF page right now
// is saved quarantined, with the punish URL, and re-probed like any
// quarantined account: the returned record's State says so. The returned
// copy carries no secrets (Token, Password and Proxy are empty).
func (p *Pool) AddAccount(ctx context.Context, in *store.Account, opts AddOptions) (*store.Account, error) {
	a := cloneAccount(in)
	a.Email, a.Token = strings.TrimSpace(a.Email), strings.TrimSpace(a.Token)
	hasPassword := a.Email != "" && a.Password != ""
	if a.Token == "" && !hasPassword {
		return nil, errors.New("pool: an account needs a token, or an e-mail and a password")
	}
	client, err := p.clients.get(a.Proxy)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	signIn := func() error {
		tok, err := p.up.SignIn(ctx, upstream.Credential{ID: "new-account", HTTPClient: client}, a.Email, a.Password)
		if err != nil {
			return fmt.Errorf("pool: sign-in failed: %w", err)
		}
		a.Token = tok
		return nil
	}
	signedIn := a.Token == ""
	if signedIn {
		if err := signIn(); err != nil {
			return nil, err
		}
	}
	var models []upstream.Model
	if !opts.NoCheck {
		probe := func() ([]upstream.Model, error) {
			return p.up.ListModels(ctx, upstream.Credential{ID: "new-account", Token: a.Token, HTTPClient: client})
		}
		models, err = probe()
		if upstream.KindOf(err) == upstream.KindUnauthorized && hasPassword && !signedIn {
			if err := signIn(); err != nil {
				return nil, err
			}
			models, err = probe()
		}
	}
	p.prepareNew(&a, models, opts.NoCheck)
	if err != nil && !quarantineNew(&a, err) {
		if upstream.KindOf(err) == upstream.KindUnauthorized {
			return nil, fmt.Errorf("pool: the upstream rejects the account's token (expired or revoked?): %w", err)
		}
		return nil, fmt.Errorf("pool: probing the account: %w", err)
	}
	if err := p.st.CreateAccount(ctx, &a); err != nil {
		return nil, fmt.Errorf("pool: saving the account: %w", err)
	}
	p.mu.Lock()
	e := &entry{gen: 1}
	p.setRecordLocked(e, &a)
	p.saveSeq++
	e.savedSeq = p.saveSeq
	p.entries[a.ID] = e
	p.rebuildOrderLocked()
	p.mu.Unlock()
	p.report(ctx, change{id: a.ID, name: a.Name, to: a.State, reason: a.StateReason})
	p.notify()
	out := cloneAccount(&a)
	out.Token, out.Password, out.Proxy = "", "", ""
	return &out, nil
}

// quarantineNew makes a new account quarantined when the check met a
// captcha or a WAF page, and reports whether it did.
func quarantineNew(a *store.Account, err error) bool {
	ue, ok := upstream.AsError(err)
	if !ok || (ue.Kind != upstream.KindCaptcha && ue.Kind != upstream.KindWAF) {
		return false
	}
	what := "a captcha"
	if ue.Kind == upstream.KindWAF {
		what = "a WAF block page"
	}
	a.State, a.PunishURL = store.StateQuarantined, ue.URL
	a.StateReason = "the upstream answered with " + what + " when the account was added: pass the check in a browser signed in as this account, then enable it (it is also re-probed automatically)"
	return true
}

func (p *Pool) prepareNew(a *store.Account, models []upstream.Model, unchecked bool) {
	now := p.opts.Now()
	a.Models = a.Models[:0]
	for _, m := range models {
		a.Models = append(a.Models, m.ID)
	}
	a.TokenExpiry, _ = qwen.TokenExpiry(a.Token)
	if a.Name == "" {
		a.Name = a.Email
	}
	if a.Name == "" {
		sum := sha256.Sum256([]byte(a.Token))
		a.Name = "token-" + hex.EncodeToString(sum[:4])
	}
	a.State, a.StateReason, a.StateSince = store.StateActive, "added", now
	if unchecked {
		a.StateReason = "added without a check"
	}
	a.CoolUntil, a.PunishURL = time.Time{}, ""
}

func (p *Pool) lookup(id int64) (*entry, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[id]; e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("pool: account %d: %w", id, store.ErrNotFound)
}

// SetDisabled switches an account off, or on again: enabling makes it
// active whatever state it was in (the admin solved the captcha, replaced
// the token…). It is an operator write: it lands on the stored record
// whatever the pools (this one, other relays) saved meanwhile, and their
// later saves keep it (see merge).
func (p *Pool) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	reason := "enabled by the admin"
	if disabled {
		reason = "disabled by the admin"
	}
	if !disabled {
		defer p.clearPenalty(id)
	}
	return p.operatorWrite(ctx, id, func(a *store.Account, inMemory store.AccountState) bool {
		if disabled && a.State == store.StateDisabled {
			return false
		}
		if !disabled && a.State == store.StateActive && inMemory == store.StateActive {
			return false
		}
		to := store.StateActive
		if disabled {
			to = store.StateDisabled
		}
		// A new StateSince marks the state group as changed even when
		// the stored state already was the wanted one.
		a.State, a.StateReason, a.StateSince = to, reason, p.opts.Now()
		a.CoolUntil, a.PunishURL = time.Time{}, ""
		return true
	})
}

// clearPenalty forgets account id's soft failures (an admin enabled it):
// it competes for requests like a fresh account again.
func (p *Pool) clearPenalty(id int64) {
	p.mu.Lock()
	if e := p.entries[id]; e != nil {
		e.consec, e.authStrikes, e.penaltyUntil = 0, 0, time.Time{}
	}
	p.mu.Unlock()
	p.notify()
}

// operatorWrite applies an operator's change to account id's stored
// record: read, mut, compare-and-swap, again from a fresh read when another
// writer came first. mut sees the stored record and the state this pool
// holds, and reports whether to write. The written record is then
// installed in the pool; the groups it changed win over the pool's unsaved
// changes.
func (p *Pool) operatorWrite(ctx context.Context, id int64, mut func(a *store.Account, inMemory store.AccountState) bool) error {
	e, err := p.lookup(id)
	if err != nil {
		return err
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	for try := range maxOperatorTries {
		if try > 0 {
			// Another writer (a relay saving state) came first: back off a
			// little, jittered, so the operator's write gets its turn.
			d := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(try, 5), 20*time.Millisecond)) + 1))
			if err := sleepCtx(ctx, d); err != nil {
				return fmt.Errorf("pool: account %d: %w", id, err)
			}
		}
		cur, err := p.st.GetAccount(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			p.drop(ctx, e, "deleted from the store")
		}
		if err != nil {
			return fmt.Errorf("pool: account %d: %w", id, err)
		}
		p.mu.Lock()
		inMemory := e.acct.State
		p.mu.Unlock()
		rec := cloneAccount(cur)
		if !mut(&rec, inMemory) {
			p.mu.Lock()
			c := p.adoptLocked(e, cur) // already so in the store: make it so here
			p.mu.Unlock()
			p.report(ctx, c)
			return nil
		}
		err = p.st.UpdateAccount(ctx, &rec)
		if errors.Is(err, store.ErrVersionConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pool: account %d: %w", id, err)
		}
		p.mu.Lock()
		c := p.adoptLocked(e, &rec)
		e.consec = 0
		p.saveSeq++
		e.savedSeq = p.saveSeq
		p.mu.Unlock()
		c.loaded = false
		p.report(ctx, c)
		p.notify()
		return nil
	}
	return fmt.Errorf("pool: account %d: %w (the record kept changing; try again)", id, store.ErrVersionConflict)
}

// maxOperatorTries bounds an operator's write against a record that keeps
// changing; with the backoff between tries it spans about a second.
const maxOperatorTries = 64

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DeleteAccount removes an account from the store and the pool. Leases in
// flight finish normally.
func (p *Pool) DeleteAccount(ctx context.Context, id int64) error {
	if err := p.st.DeleteAccount(ctx, id); err != nil {
		return fmt.Errorf("pool: deleting account %d: %w", id, err)
	}
	p.mu.Lock()
	e := p.entries[id]
	if e != nil {
		e.removed = true
		delete(p.entries, id)
		p.rebuildOrderLocked()
	}
	p.mu.Unlock()
	if e != nil {
		p.report(ctx, change{id: id, name: e.acct.Name, from: e.acct.State, reason: "deleted"})
	}
	return nil
}

// TestAccount makes one cheap upstream call (the model list) with the
// account now and applies the result: success makes a cooling, quarantined
// or invalid account active and refreshes its models; a failure is held
// against it like a failed request. The error is the probe's.
func (p *Pool) TestAccount(ctx context.Context, id int64) (AccountStatus, error) {
	e, err := p.lookup(id)
	if err != nil {
		return AccountStatus{}, err
	}
	err = p.probe(ctx, e)
	p.waitReauth(ctx, e) // a rejected token is re-checked in the background: report its verdict
	p.mu.Lock()
	st := p.statusLocked(e)
	p.mu.Unlock()
	st.InFlight, _ = p.live.InFlight(ctx, id)
	return st, err
}

// probe lists the models with e's token and applies the outcome.
func (p *Pool) probe(ctx context.Context, e *entry) error {
	p.mu.Lock()
	cred := upstream.Credential{ID: e.credID(), Token: e.acct.Token, HTTPClient: e.client}
	gen := e.gen
	p.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	models, err := p.up.ListModels(cctx, cred)
	cancel()
	if err != nil {
		p.apply(ctx, e, gen, err)
		return fmt.Errorf("pool: testing account: %w", err)
	}
	p.update(ctx, e, func(e *entry) bool {
		e.acct.Models = e.acct.Models[:0]
		for _, m := range models {
			e.acct.Models = append(e.acct.Models, m.ID)
		}
		e.models = modelSet(e.acct.Models)
		e.consec = 0
		switch e.acct.State {
		case store.StateCooling, store.StateQuarantined, store.StateInvalid:
			setState(&e.acct, store.StateActive, "check passed", time.Time{}, "", p.opts.Now())
		}
		return true
	})
	return nil
}

// AccountEdit is an operator's change to an account; nil fields stay as
// they are.
type AccountEdit struct {
	Name          *string
	Token         *string // a replacement token; an invalid account becomes active again
	Proxy         *string // "" = none
	MaxConcurrent *int    // 0 = the pool default
	MinInterval   *time.Duration
}

// EditAccount applies an operator's edit to account id. Like SetDisabled
// it is an operator write: it lands on the stored record whatever the
// pools saved meanwhile, and their later saves keep it. The new token is
// not probed (TestAccount does that).
func (p *Pool) EditAccount(ctx context.Context, id int64, ed AccountEdit) error {
	if ed.Name != nil && strings.TrimSpace(*ed.Name) == "" {
		return errors.New("pool: an account name cannot be empty")
	}
	if ed.Token != nil && strings.TrimSpace(*ed.Token) == "" {
		return errors.New("pool: an account token cannot be empty")
	}
	if ed.Proxy != nil {
		if _, err := p.clients.get(*ed.Proxy); err != nil {
			return fmt.Errorf("pool: %w", err)
		}
	}
	return p.operatorWrite(ctx, id, func(a *store.Account, _ store.AccountState) bool {
		if ed.Name != nil {
			a.Name = strings.TrimSpace(*ed.Name)
		}
		if ed.Proxy != nil {
			a.Proxy = *ed.Proxy
		}
		if ed.MaxConcurrent != nil {
			a.MaxConcurrent = *ed.MaxConcurrent
		}
		if ed.MinInterval != nil {
			a.MinInterval = *ed.MinInterval
		}
		if ed.Token != nil {
			a.Token = strings.TrimSpace(*ed.Token)
			a.TokenExpiry, _ = qwen.TokenExpiry(a.Token)
			if a.State == store.StateInvalid {
				a.State, a.StateReason, a.StateSince = store.StateActive, "token replaced by the admin", p.opts.Now()
			}
		}
		return true
	})
}

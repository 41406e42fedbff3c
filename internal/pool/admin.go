package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// AddAccount checks and adds an account given by a token, or by an e-mail
// and password (it signs in first). The token's expiry is decoded, the
// model list probed to fill Models, and the account saved and put to use.
// A token or sign-in the upstream refuses is an error and nothing is saved.
// The returned copy carries no secrets (Token, Password and Proxy are empty).
func (p *Pool) AddAccount(ctx context.Context, in *store.Account) (*store.Account, error) {
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
	probe := func() ([]upstream.Model, error) {
		return p.up.ListModels(ctx, upstream.Credential{ID: "new-account", Token: a.Token, HTTPClient: client})
	}
	models, err := probe()
	if upstream.KindOf(err) == upstream.KindUnauthorized && hasPassword && !signedIn {
		if err := signIn(); err != nil {
			return nil, err
		}
		models, err = probe()
	}
	if upstream.KindOf(err) == upstream.KindUnauthorized {
		return nil, fmt.Errorf("pool: the upstream rejects the account's token (expired or revoked?): %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("pool: probing the account: %w", err)
	}
	p.prepareNew(&a, models)
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

func (p *Pool) prepareNew(a *store.Account, models []upstream.Model) {
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
// the token…).
func (p *Pool) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	e, err := p.lookup(id)
	if err != nil {
		return err
	}
	p.update(ctx, e, func(e *entry) bool {
		now := p.opts.Now()
		if disabled {
			return setState(&e.acct, store.StateDisabled, "disabled by the admin", time.Time{}, "", now)
		}
		if e.acct.State == store.StateActive {
			return false
		}
		e.consec = 0
		return setState(&e.acct, store.StateActive, "enabled by the admin", time.Time{}, "", now)
	})
	return nil
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
	p.Wait() // a rejected token is re-checked in the background: report its verdict
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

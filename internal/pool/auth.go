package pool

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

const reasonTokenRejected = "token rejected (expired?); add a fresh token"

// reauth handles a rejected token of generation gen: a re-login when the
// account has a password. Without one, the account becomes invalid only
// when the token is confirmed dead: expired, rejected twice in a row, or
// rejected by a cheap check. A token the check accepts was rejected by a
// fluke: it stays in use, under a new credential generation so the failed
// request may retry it. A token already replaced since gen is left alone.
func (p *Pool) reauth(ctx context.Context, e *entry, gen uint64) {
	p.mu.Lock()
	current, hasPassword := e.gen == gen, e.acct.Email != "" && e.acct.Password != ""
	expiry := e.acct.TokenExpiry
	cred := upstream.Credential{ID: e.credID(), Token: e.acct.Token, HTTPClient: e.client}
	e.authStrikes++
	strikes := e.authStrikes
	p.mu.Unlock()
	if !current {
		return
	}
	if hasPassword {
		_ = p.relogin(ctx, e, gen)
		return
	}
	reason := reasonTokenRejected
	switch {
	case !expiry.IsZero() && !expiry.After(p.opts.Now()):
		reason = "token expired; add a fresh token (or give the account a password for automatic sign-in)"
	case strikes < 2:
		cctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
		_, err := p.up.ListModels(cctx, cred)
		cancel()
		if upstream.KindOf(err) != upstream.KindUnauthorized {
			p.mu.Lock()
			if e.gen == gen {
				e.gen++
			}
			id := e.acct.ID
			p.mu.Unlock()
			p.log.Warn("account token was rejected once but a check accepted it; keeping the account",
				slog.Int64("account", id), slog.Any("check_error", err))
			return
		}
	}
	p.update(ctx, e, func(e *entry) bool {
		if e.gen != gen || e.acct.State == store.StateDisabled {
			return false // replaced by a new token meanwhile
		}
		return setState(&e.acct, store.StateInvalid, reason, time.Time{}, "", p.opts.Now())
	})
}

// relogin signs in again and installs the new token, unless the token of
// generation gen was replaced meanwhile. Sign-ins of one account are
// single-flight: however many requests hit the 401, one sign-in runs and the
// others wait for it. A refused sign-in makes the account invalid; a
// transient failure leaves it as it is.
func (p *Pool) relogin(ctx context.Context, e *entry, gen uint64) error {
	p.mu.Lock()
	id := e.acct.ID
	p.mu.Unlock()
	_, err, _ := p.logins.Do(strconv.FormatInt(id, 10), func() (any, error) {
		p.mu.Lock()
		stale, email, password := e.gen != gen, e.acct.Email, e.acct.Password
		via := upstream.Credential{ID: e.credID(), HTTPClient: e.client} // the account's proxy
		p.mu.Unlock()
		if stale {
			return nil, nil
		}
		ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
		defer cancel()
		token, err := p.up.SignIn(ctx, via, email, password)
		if err != nil {
			p.signInFailed(ctx, e, err)
			return nil, err
		}
		exp, _ := qwen.TokenExpiry(token)
		p.update(ctx, e, func(e *entry) bool {
			e.acct.Token, e.acct.TokenExpiry = token, exp
			e.gen++
			e.consec = 0
			e.penaltyUntil = time.Time{}
			if e.acct.State == store.StateInvalid {
				setState(&e.acct, store.StateActive, "signed in again", time.Time{}, "", p.opts.Now())
			}
			return true
		})
		p.log.Info("account signed in again", slog.Int64("account", id), slog.Time("token_expiry", exp))
		p.notify()
		return nil, nil
	})
	return err
}

func (p *Pool) signInFailed(ctx context.Context, e *entry, err error) {
	p.mu.Lock()
	id := e.acct.ID
	p.mu.Unlock()
	if upstream.KindOf(err) != upstream.KindUnauthorized {
		p.log.Warn("account sign-in failed; will try again", slog.Int64("account", id), slog.String("error", err.Error()))
		return
	}
	reason := "sign-in refused: check the e-mail and password"
	if ue, ok := upstream.AsError(err); ok && ue.Message != "" {
		reason = "sign-in refused: " + ue.Message
	}
	p.update(ctx, e, func(e *entry) bool {
		if e.acct.State == store.StateDisabled {
			return false
		}
		return setState(&e.acct, store.StateInvalid, reason, time.Time{}, "", p.opts.Now())
	})
}

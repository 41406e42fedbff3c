package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/admin"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// importEnvTokens stores each QWENRELAY_QWEN_TOKENS token as an account
// named after its fingerprint, so configured tokens join the managed pool.
// It makes no upstream call: the relay starts even while the upstream is
// down, and a revoked token is found by the first request or health check.
// A token that is not even a JWT (a placeholder, a truncated paste) is
// refused before anything is stored, naming its position, never its text.
func importEnvTokens(ctx context.Context, cfg config.Config, st store.AccountStore, log *slog.Logger) error {
	for i, tok := range cfg.QwenTokens {
		if err := config.CheckQwenToken(tok); err != nil {
			return fmt.Errorf("import QWENRELAY_QWEN_TOKENS: token #%d %w; nothing was imported", i+1, err)
		}
	}
	for _, tok := range cfg.QwenTokens {
		name := EnvAccountName(tok)
		a := &store.Account{Name: name, Token: tok, State: store.StateActive}
		if exp, ok := qwen.TokenExpiry(tok); ok {
			a.TokenExpiry = exp
		}
		err := st.CreateAccount(ctx, a)
		switch {
		case errors.Is(err, store.ErrConflict):
			continue // imported on an earlier start
		case err != nil:
			return fmt.Errorf("import QWENRELAY_QWEN_TOKENS: %w", err)
		}
		log.Info("imported a token from QWENRELAY_QWEN_TOKENS", "account", name, "token", secrets.Mask(tok))
	}
	return nil
}

// EnvAccountName names the account of a configured token.
func EnvAccountName(token string) string {
	return "env-" + fmt.Sprintf("%x", secrets.HashKey(token)[:4])
}

// poolAccounts adapts the pool to the admin API.
type poolAccounts struct{ p *pool.Pool }

var _ admin.Accounts = poolAccounts{}

func (a poolAccounts) Add(ctx context.Context, in admin.AddAccount) (admin.AccountView, error) {
	if in.Token == "" && (in.Email == "" || in.Password == "") {
		return admin.AccountView{}, &admin.InputError{Param: "token", Message: "give a token, or an email and a password"}
	}
	acc, err := a.p.AddAccount(ctx, &store.Account{
		Name: in.Name, Token: in.Token, Email: in.Email, Password: in.Password, Proxy: in.Proxy,
		MaxConcurrent: in.MaxConcurrent, MinInterval: in.MinInterval,
	}, pool.AddOptions{NoCheck: in.NoCheck})
	if err != nil {
		return admin.AccountView{}, err
	}
	for _, s := range a.p.Status(ctx) {
		if s.ID == acc.ID {
			return view(s), nil
		}
	}
	return admin.AccountView{ID: acc.ID, Name: acc.Name}, nil
}

func (a poolAccounts) List(ctx context.Context) ([]admin.AccountView, error) {
	st := a.p.Status(ctx)
	out := make([]admin.AccountView, 0, len(st))
	for _, s := range st {
		out = append(out, view(s))
	}
	return out, nil
}

func (a poolAccounts) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	return a.p.SetDisabled(ctx, id, disabled)
}

func (a poolAccounts) Delete(ctx context.Context, id int64) error { return a.p.DeleteAccount(ctx, id) }

func (a poolAccounts) Update(ctx context.Context, id int64, in admin.UpdateAccount) error {
	return a.p.EditAccount(ctx, id, pool.AccountEdit{Name: in.Name, Token: in.Token, Proxy: in.Proxy,
		MaxConcurrent: in.MaxConcurrent, MinInterval: in.MinInterval})
}

func (a poolAccounts) Test(ctx context.Context, id int64) (admin.AccountView, error) {
	s, err := a.p.TestAccount(ctx, id)
	if err != nil && s.ID == 0 {
		return admin.AccountView{}, err
	}
	return view(s), nil
}

func view(s pool.AccountStatus) admin.AccountView {
	proxy := ""
	if s.HasProxy {
		proxy = "(set)"
	}
	return admin.AccountView{
		ID: s.ID, Name: s.Name, Email: s.Email, State: string(s.State), Reason: s.Reason,
		StateSince: timePtr(s.Since), CoolUntil: timePtr(s.CoolUntil), TokenExpiry: timePtr(s.TokenExpiry),
		LastUsed: timePtr(s.LastUsed), PunishURL: s.PunishURL, TokenPrefix: s.TokenPrefix, HasPassword: s.HasPassword,
		InFlight: s.InFlight, Requests: s.Requests, Failures: s.Failures, Models: s.Models, Proxy: proxy,
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

package pool

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// wafUp answers the model list with a WAF block page.
type wafUp struct{ probeUp }

func (*wafUp) ListModels(context.Context, upstream.Credential) ([]upstream.Model, error) {
	return nil, &upstream.Error{Kind: upstream.KindWAF}
}

// TestAddAccountBehindCaptcha: issue #6 — an account that answers with a
// captcha when added is stored quarantined with its punish URL (not
// refused), and comes back through the re-probe; --no-check makes no
// upstream call at all.
func TestAddAccountBehindCaptcha(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		up        Upstream
		opts      AddOptions
		state     store.AccountState
		reason    string
		punishURL string
		probes    int
	}{
		{"captcha", &probeUp{blocked: true}, AddOptions{}, store.StateQuarantined, "captcha", "https://chat.qwen.ai/punish?x5step=2", 1},
		{"waf", &wafUp{}, AddOptions{}, store.StateQuarantined, "WAF block page", "", 0},
		{"clean", &probeUp{}, AddOptions{}, store.StateActive, "added", "", 1},
		{"no check", &probeUp{blocked: true}, AddOptions{NoCheck: true}, store.StateActive, "without a check", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			st := memstore.New()
			p := New(Options{MinInterval: -1, Now: clk.Now}, st, tc.up, NewMemoryLive(), nil, nil)
			got, err := p.AddAccount(ctx, &store.Account{Name: "n", Token: "tok-secret"}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.state || !strings.Contains(got.StateReason, tc.reason) || got.PunishURL != tc.punishURL || got.Token != "" {
				t.Fatalf("added %+v", got)
			}
			if pu, ok := tc.up.(*probeUp); ok {
				if n := pu.set(pu.blocked); n != tc.probes {
					t.Errorf("%d upstream probes, want %d", n, tc.probes)
				}
			}
			stored, err := st.GetAccount(ctx, got.ID)
			if err != nil || stored.State != tc.state || stored.PunishURL != tc.punishURL || stored.Token != "tok-secret" {
				t.Fatalf("stored %+v, %v", stored, err)
			}
			if tc.state != store.StateQuarantined {
				return
			}
			if _, err := p.Acquire(ctx, relay.Want{Model: model}); err == nil {
				t.Fatal("a quarantined new account was handed out")
			}
			// Solved meanwhile: the automatic re-probe brings it back.
			if pu, ok := tc.up.(*probeUp); ok {
				pu.set(false)
				clk.Add(10 * time.Minute)
				p.checkHealth(ctx)
				if s := p.Status(ctx)[0]; s.State != store.StateActive {
					t.Fatalf("after the re-probe: %s", s.State)
				}
			}
		})
	}
}

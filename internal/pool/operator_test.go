package pool

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/store/sqlite"
)

// backends are the account stores the operator tests run against: the
// in-memory one and the embedded SQLite file the relay and the CLI share.
var backends = []struct {
	name string
	open func(t *testing.T) store.AccountStore
}{
	{"memstore", func(*testing.T) store.AccountStore { return memstore.New() }},
	{"sqlite", func(t *testing.T) store.AccountStore {
		box, err := secrets.NewBox(bytes.Repeat([]byte{7}, secrets.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"), box)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// churn makes the pool change account id's state (active <-> cooling, as
// outcomes and probes do) and save it, from several goroutines, until ctx
// ends. Like every outcome it leaves a disabled account alone. It returns
// the number of rounds run so far and a wait for the goroutines.
func churn(ctx context.Context, p *Pool, id int64, workers int) (rounds *atomic.Int64, wait func()) {
	rounds = new(atomic.Int64)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				e, err := p.lookup(id)
				if err == nil {
					p.update(ctx, e, func(e *entry) bool {
						now := p.opts.Now()
						switch e.acct.State {
						case store.StateActive:
							return setState(&e.acct, store.StateCooling, "rate limited", now.Add(time.Minute), "", now)
						case store.StateCooling:
							return setState(&e.acct, store.StateActive, "check passed", time.Time{}, "", now)
						}
						return false
					})
				}
				rounds.Add(1)
				runtime.Gosched()
			}
		})
	}
	return rounds, wg.Wait
}

// waitRounds returns once n more churn rounds ran.
func waitRounds(r *atomic.Int64, n int64) {
	for target := r.Load() + n; r.Load() < target; {
		runtime.Gosched()
	}
}

// Regression test for issue #6 ("admin changes stick"): `qwenrelay
// accounts disable 2` run while the relay was saving state changes of
// account 2 was overwritten by the relay's next save, and the account came
// back into use. The operator's change must hold: in the store, and in the
// relay's pool once it reloaded, while the relay keeps saving.
func TestOperatorChangeHoldsUnderStateSaves(t *testing.T) {
	for _, b := range backends {
		for _, op := range []struct {
			name     string
			sameProc bool // the admin API (the relay's own pool) rather than the CLI (another pool)
			delete   bool
		}{
			{"cli disable", false, false},
			{"admin disable", true, false},
			{"cli delete", false, true},
			{"admin delete", true, true},
		} {
			t.Run(b.name+"/"+op.name, func(t *testing.T) {
				ctx := context.Background()
				st := b.open(t)
				for _, n := range []string{"a", "b"} {
					if err := st.CreateAccount(ctx, &store.Account{Name: n, Token: "tok-" + n, State: store.StateActive}); err != nil {
						t.Fatal(err)
					}
				}
				relayPool := New(Options{MinInterval: -1, MaxConcurrent: 1000}, st, nil, NewMemoryLive(), nil, nil)
				if err := relayPool.Load(ctx); err != nil {
					t.Fatal(err)
				}
				cctx, cancel := context.WithCancel(ctx)
				rounds, wait := churn(cctx, relayPool, 2, 8)
				defer func() { cancel(); wait() }()
				waitRounds(rounds, 50)

				operator := relayPool
				if !op.sameProc {
					operator = New(Options{}, st, nil, nil, nil, nil)
					if err := operator.Load(ctx); err != nil {
						t.Fatal(err)
					}
				}
				var err error
				if op.delete {
					err = operator.DeleteAccount(ctx, 2)
				} else {
					err = operator.SetDisabled(ctx, 2, true)
				}
				if err != nil {
					t.Fatal(err)
				}
				waitRounds(rounds, 100) // the relay goes on saving what it believes
				if err := relayPool.Load(ctx); err != nil {
					t.Fatal(err)
				}
				for range 300 {
					l, err := relayPool.Acquire(ctx, relay.Want{Model: model})
					if err != nil {
						t.Fatal(err)
					}
					if id := l.(*lease).AccountID(); id == 2 {
						t.Fatalf("account 2 handed out after the operator's change")
					}
					l.Release(nil)
					runtime.Gosched()
				}
				cancel()
				wait()
				relayPool.flush(ctx)
				a, err := st.GetAccount(ctx, 2)
				switch {
				case op.delete && !errors.Is(err, store.ErrNotFound):
					t.Fatalf("deleted account is back in the store: %+v, %v", a, err)
				case !op.delete && (err != nil || a.State != store.StateDisabled):
					t.Fatalf("stored account 2: %+v, %v; want disabled", a, err)
				}
				for _, s := range relayPool.Status(ctx) {
					if s.ID == 2 && (op.delete || s.State != store.StateDisabled) {
						t.Fatalf("relay pool shows account 2 as %s", s.State)
					}
				}
			})
		}
	}
}

// TestEditAccount: an operator's edit of limits, proxy, name and token
// lands in the store (one version further) and in the pool at once.
func TestEditAccount(t *testing.T) {
	ctx := context.Background()
	ptr := func(s string) *string { return &s }
	three, interval := 3, 2*time.Second
	tests := []struct {
		name    string
		edit    AccountEdit
		wantErr error
		check   func(t *testing.T, s AccountStatus, a *store.Account)
	}{
		{"limits", AccountEdit{MaxConcurrent: &three, MinInterval: &interval}, nil, func(t *testing.T, s AccountStatus, a *store.Account) {
			if s.MaxConcurrent != 3 || a.MaxConcurrent != 3 || a.MinInterval != interval {
				t.Errorf("status %d, stored %d %v", s.MaxConcurrent, a.MaxConcurrent, a.MinInterval)
			}
		}},
		{"token revives an invalid account", AccountEdit{Token: ptr("tok-new")}, nil, func(t *testing.T, s AccountStatus, a *store.Account) {
			if s.State != store.StateActive || s.CredentialID != "acct-1.2" || a.Token != "tok-new" || a.StateReason != "token replaced by the admin" {
				t.Errorf("status %+v, stored %+v", s, a)
			}
		}},
		{"proxy and name", AccountEdit{Proxy: ptr("http://127.0.0.1:3128"), Name: ptr(" renamed ")}, nil,
			func(t *testing.T, s AccountStatus, a *store.Account) {
				if !s.HasProxy || s.Name != "renamed" || a.Proxy != "http://127.0.0.1:3128" || s.State != store.StateInvalid {
					t.Errorf("status %+v", s)
				}
			}},
		{"name taken", AccountEdit{Name: ptr("b")}, store.ErrConflict, nil},
		{"empty name", AccountEdit{Name: ptr(" ")}, nil, nil},
		{"bad proxy", AccountEdit{Proxy: ptr("ftp://h")}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, st := offline(t, Options{MinInterval: -1},
				&store.Account{Name: "a", State: store.StateInvalid, StateReason: reasonTokenRejected}, &store.Account{Name: "b"})
			err := p.EditAccount(ctx, 1, tc.edit)
			a, _ := st.GetAccount(ctx, 1)
			if tc.check == nil {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want an error (%v)", err, tc.wantErr)
				}
				if a.Version != 1 {
					t.Fatalf("a refused edit wrote the record (version %d)", a.Version)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Version != 2 {
				t.Errorf("version %d, want 2", a.Version)
			}
			tc.check(t, p.Status(ctx)[0], a)
		})
	}
}

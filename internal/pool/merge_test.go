package pool

import (
	"context"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// TestMergeOperatorWins: merge(cur, base, ours) applies the pool's own
// changes (base -> ours) to the stored record, except in a field group the
// store changed since base.
func TestMergeOperatorWins(t *testing.T) {
	t0 := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
	base := store.Account{ID: 2, Name: "b", Token: "tok-1", TokenExpiry: t0.Add(time.Hour), State: store.StateActive,
		StateSince: t0, Models: []string{"m1"}, MaxConcurrent: 2, LastUsedAt: t0, Version: 5}
	disabled := func(a *store.Account) {
		a.State, a.StateReason, a.StateSince = store.StateDisabled, "disabled by the admin", t0.Add(time.Second)
	}
	cooled := func(a *store.Account) {
		a.State, a.StateReason, a.StateSince, a.CoolUntil = store.StateCooling, "rate limited", t0.Add(2*time.Second), t0.Add(time.Minute)
	}
	quarantined := func(a *store.Account) {
		a.State, a.StateReason, a.StateSince, a.PunishURL = store.StateQuarantined, "captcha", t0.Add(2*time.Second), "https://x/punish"
	}
	relogged := func(a *store.Account) { a.Token, a.TokenExpiry = "tok-pool", t0.Add(30*24*time.Hour) }
	replaced := func(a *store.Account) { a.Token, a.TokenExpiry = "tok-operator", t0.Add(20*24*time.Hour) }
	limits := func(a *store.Account) { a.MaxConcurrent, a.MinInterval, a.Proxy = 5, time.Second, "http://p:1" }
	tests := []struct {
		name        string
		store, pool func(*store.Account) // changes since base; nil = none
		want        func(t *testing.T, m store.Account)
	}{
		{"pool change, store untouched: pool wins", nil, cooled, func(t *testing.T, m store.Account) {
			if m.State != store.StateCooling || !m.CoolUntil.Equal(t0.Add(time.Minute)) || m.StateReason != "rate limited" {
				t.Errorf("%+v", m)
			}
		}},
		{"operator disabled, pool cooled: disabled stays", disabled, cooled, func(t *testing.T, m store.Account) {
			if m.State != store.StateDisabled || !m.CoolUntil.IsZero() || m.StateReason != "disabled by the admin" {
				t.Errorf("%+v", m)
			}
		}},
		{"operator disabled, pool quarantined: disabled stays", disabled, quarantined, func(t *testing.T, m store.Account) {
			if m.State != store.StateDisabled || m.PunishURL != "" {
				t.Errorf("%+v", m)
			}
		}},
		{"operator enabled a cooling account, pool cooled it again", func(a *store.Account) {
			a.State, a.StateReason, a.StateSince = store.StateActive, "enabled by the admin", t0.Add(time.Second)
		}, cooled, func(t *testing.T, m store.Account) {
			if m.State != store.StateActive || m.StateReason != "enabled by the admin" {
				t.Errorf("%+v", m)
			}
		}},
		{"operator replaced the token, pool re-logged in: operator's token", replaced, relogged, func(t *testing.T, m store.Account) {
			if m.Token != "tok-operator" || !m.TokenExpiry.Equal(t0.Add(20*24*time.Hour)) {
				t.Errorf("%+v", m)
			}
		}},
		{"operator changed limits, pool re-logged in and cooled: both kept", limits, func(a *store.Account) { relogged(a); cooled(a) },
			func(t *testing.T, m store.Account) {
				if m.MaxConcurrent != 5 || m.MinInterval != time.Second || m.Proxy != "http://p:1" ||
					m.Token != "tok-pool" || m.State != store.StateCooling {
					t.Errorf("%+v", m)
				}
			}},
		{"operator disabled, pool re-logged in: disabled with the new token", disabled, relogged, func(t *testing.T, m store.Account) {
			if m.State != store.StateDisabled || m.Token != "tok-pool" {
				t.Errorf("%+v", m)
			}
		}},
		{"pool cannot touch operator fields", nil, func(a *store.Account) { limits(a); a.Name = "renamed" }, func(t *testing.T, m store.Account) {
			if m.MaxConcurrent != 2 || m.Proxy != "" || m.Name != "b" {
				t.Errorf("%+v", m)
			}
		}},
		{"models: store's change wins, else the pool's", func(a *store.Account) { a.Models = []string{"s"} },
			func(a *store.Account) { a.Models = []string{"p"} }, func(t *testing.T, m store.Account) {
				if len(m.Models) != 1 || m.Models[0] != "s" {
					t.Errorf("%+v", m.Models)
				}
			}},
		{"last use: the later one", func(a *store.Account) { a.LastUsedAt = t0.Add(time.Hour) },
			func(a *store.Account) { a.LastUsedAt = t0.Add(time.Minute) }, func(t *testing.T, m store.Account) {
				if !m.LastUsedAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("%v", m.LastUsedAt)
				}
			}},
		{"store precision is not a change", func(a *store.Account) {
			a.StateSince = a.StateSince.Add(300 * time.Microsecond).Truncate(time.Millisecond)
		}, cooled, func(t *testing.T, m store.Account) {
			if m.State != store.StateCooling {
				t.Errorf("%+v", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur, ours := cloneAccount(&base), cloneAccount(&base)
			if tc.store != nil {
				tc.store(&cur)
				cur.Version++
			}
			if tc.pool != nil {
				tc.pool(&ours)
			}
			m := merge(&cur, &base, &ours)
			if m.Version != cur.Version {
				t.Errorf("version %d, want the store's %d", m.Version, cur.Version)
			}
			tc.want(t, m)
		})
	}
}

// TestSaveKeepsLaterChanges: a change made while a save is in flight is
// not lost when the save installs what it wrote.
func TestSaveKeepsLaterChanges(t *testing.T) {
	ctx := context.Background()
	p, st := offline(t, Options{MinInterval: -1}, &store.Account{Name: "a"})
	e, _ := p.lookup(1)
	p.mu.Lock()
	setState(&e.acct, store.StateCooling, "rate limited", time.Now().Add(time.Minute), "", time.Now())
	ours := cloneAccount(&e.acct)
	rec := merge(func() *store.Account { a, _ := st.GetAccount(ctx, 1); return a }(), &e.saved, &ours)
	setState(&e.acct, store.StateQuarantined, "captcha", time.Time{}, "u", time.Now()) // lands meanwhile
	p.mu.Unlock()
	if err := st.UpdateAccount(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	p.installWritten(ctx, e, &rec, &ours)
	if s := p.Status(ctx)[0]; s.State != store.StateQuarantined {
		t.Fatalf("in memory %s, want the later change (quarantined)", s.State)
	}
	p.save(ctx, e)
	if a, _ := st.GetAccount(ctx, 1); a.State != store.StateQuarantined || a.Version != 3 {
		t.Fatalf("stored %s v%d", a.State, a.Version)
	}
}

// TestSaveDropsDeletedAccount: a save of an account deleted from the store
// does not recreate it; the pool forgets it.
func TestSaveDropsDeletedAccount(t *testing.T) {
	ctx := context.Background()
	p, st := offline(t, Options{MinInterval: -1}, &store.Account{Name: "a"}, &store.Account{Name: "b"})
	if err := st.DeleteAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	e, _ := p.lookup(1)
	p.update(ctx, e, func(e *entry) bool {
		return setState(&e.acct, store.StateCooling, "rate limited", time.Now().Add(time.Minute), "", time.Now())
	})
	if l, _ := st.ListAccounts(ctx); len(l) != 1 {
		t.Fatalf("%d accounts stored, want 1", len(l))
	}
	if s := p.Status(ctx); len(s) != 1 || s[0].ID != 2 {
		t.Fatalf("pool still has the deleted account: %+v", s)
	}
}

// hookStore runs afterUpdate once a write has landed, before
// UpdateAccount returns to the pool.
type hookStore struct {
	*memstore.Accounts
	afterUpdate func()
}

func (s *hookStore) UpdateAccount(ctx context.Context, a *store.Account) error {
	err := s.Accounts.UpdateAccount(ctx, a)
	if err == nil && s.afterUpdate != nil {
		f := s.afterUpdate
		s.afterUpdate = nil
		f()
	}
	return err
}

// TestReloadDuringSaveKeepsLaterChange: a reload that reads the record a
// save has just written, before the save installed it, must not undo a
// change the pool made meanwhile.
func TestReloadDuringSaveKeepsLaterChange(t *testing.T) {
	ctx := context.Background()
	st := &hookStore{Accounts: memstore.New()}
	if err := st.CreateAccount(ctx, &store.Account{Name: "a", Token: "t", State: store.StateActive}); err != nil {
		t.Fatal(err)
	}
	p := New(Options{MinInterval: -1}, st, nil, NewMemoryLive(), nil, nil)
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ := p.lookup(1)
	st.afterUpdate = func() {
		p.mu.Lock() // an outcome lands while the write is in flight…
		setState(&e.acct, store.StateQuarantined, "captcha", time.Time{}, "u", time.Now())
		p.mu.Unlock()
		if err := p.Load(ctx); err != nil { // …and a reload runs
			t.Error(err)
		}
	}
	p.update(ctx, e, func(e *entry) bool {
		return setState(&e.acct, store.StateCooling, "rate limited", time.Now().Add(time.Minute), "", time.Now())
	})
	if s := p.Status(ctx)[0]; s.State != store.StateQuarantined {
		t.Fatalf("in memory %s, want the later change (quarantined)", s.State)
	}
}

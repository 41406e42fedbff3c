package memstore

import (
	"context"
	"errors"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// TestUpdateIsCompareAndSwap: the in-memory store keeps the same version
// contract as the SQLite one.
func TestUpdateIsCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	s := New()
	a := &store.Account{Name: "a", State: store.StateActive}
	if err := s.CreateAccount(ctx, a); err != nil || a.Version != 1 {
		t.Fatalf("create: %v, version %d", err, a.Version)
	}
	stale, _ := s.GetAccount(ctx, a.ID)
	fresh, _ := s.GetAccount(ctx, a.ID)
	fresh.State = store.StateDisabled
	for _, step := range []struct {
		name string
		a    *store.Account
		want error
	}{
		{"fresh", fresh, nil},
		{"stale", stale, store.ErrVersionConflict},
		{"missing", &store.Account{ID: 9, Name: "x"}, store.ErrNotFound},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := s.UpdateAccount(ctx, step.a); !errors.Is(err, step.want) || (step.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, step.want)
			}
		})
	}
	got, _ := s.GetAccount(ctx, a.ID)
	if got.State != store.StateDisabled || got.Version != 2 || fresh.Version != 2 {
		t.Fatalf("stored %+v", got)
	}
	if l, _ := s.ListAccounts(ctx); len(l) != 1 {
		t.Fatalf("an update created an account: %d", len(l))
	}
}

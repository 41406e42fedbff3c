// Package memstore is an in-memory store.AccountStore, for tests, the demo
// mode and anything else that does not need accounts to outlive the
// process. It keeps copies: callers never share records with it.
package memstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Accounts is an in-memory store.AccountStore, safe for concurrent use.
type Accounts struct {
	mu     sync.Mutex
	next   int64
	m      map[int64]*store.Account
	writes int
	// Now stamps CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
}

var _ store.AccountStore = (*Accounts)(nil)

// New returns an empty store.
func New() *Accounts { return &Accounts{m: map[int64]*store.Account{}} }

func (s *Accounts) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func clone(a *store.Account) *store.Account {
	c := *a
	c.Models = slices.Clone(a.Models)
	return &c
}

// CreateAccount implements store.AccountStore.
func (s *Accounts) CreateAccount(ctx context.Context, a *store.Account) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.m {
		if o.Name == a.Name {
			return store.ErrConflict
		}
	}
	s.next++
	a.ID, a.Version = s.next, 1
	a.CreatedAt = s.now()
	a.UpdatedAt = a.CreatedAt
	s.m[a.ID] = clone(a)
	s.writes++
	return nil
}

// UpdateAccount implements store.AccountStore: a compare-and-swap on
// Version.
func (s *Accounts) UpdateAccount(ctx context.Context, a *store.Account) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[a.ID]
	if old == nil {
		return store.ErrNotFound
	}
	if old.Version != a.Version {
		return store.ErrVersionConflict
	}
	for _, o := range s.m {
		if o.ID != a.ID && o.Name == a.Name {
			return store.ErrConflict
		}
	}
	a.CreatedAt = old.CreatedAt
	a.UpdatedAt = s.now()
	a.Version++
	s.m[a.ID] = clone(a)
	s.writes++
	return nil
}

// GetAccount implements store.AccountStore.
func (s *Accounts) GetAccount(ctx context.Context, id int64) (*store.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.m[id]; a != nil {
		return clone(a), nil
	}
	return nil, store.ErrNotFound
}

// ListAccounts implements store.AccountStore.
func (s *Accounts) ListAccounts(ctx context.Context) ([]*store.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*store.Account, 0, len(s.m))
	for _, a := range s.m {
		out = append(out, clone(a))
	}
	slices.SortFunc(out, func(a, b *store.Account) int { return int(a.ID - b.ID) })
	return out, nil
}

// DeleteAccount implements store.AccountStore.
func (s *Accounts) DeleteAccount(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[id] == nil {
		return store.ErrNotFound
	}
	delete(s.m, id)
	s.writes++
	return nil
}

// Writes counts successful creates, updates and deletes.
func (s *Accounts) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

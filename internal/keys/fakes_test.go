package keys

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// memStore is an in-memory store.KeyStore.
type memStore struct {
	mu      sync.Mutex
	keys    []*store.Key
	lookups atomic.Int64
	now     func() time.Time
	fail    error // returned by GetKeyByHash when set
	lists   atomic.Int64
	listErr error // returned by ListKeys when set
	// listGate, when set, holds ListKeys until it is closed.
	listGate chan struct{}
}

var _ store.KeyStore = (*memStore)(nil)

func cp(k *store.Key) *store.Key {
	c := *k
	c.Hash = slices.Clone(k.Hash)
	c.AllowedModels = slices.Clone(k.AllowedModels)
	return &c
}

func (m *memStore) CreateKey(_ context.Context, k *store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if bytes.Equal(o.Hash, k.Hash) {
			return store.ErrConflict
		}
	}
	k.ID = int64(len(m.keys) + 1)
	k.CreatedAt = m.now()
	m.keys = append(m.keys, cp(k))
	return nil
}

func (m *memStore) UpdateKey(_ context.Context, k *store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, o := range m.keys {
		if o.ID == k.ID {
			m.keys[i] = cp(k)
			return nil
		}
	}
	return store.ErrNotFound
}

func (m *memStore) GetKey(_ context.Context, id int64) (*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.ID == id {
			return cp(o), nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memStore) GetKeyByHash(_ context.Context, h []byte) (*store.Key, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	for _, o := range m.keys {
		if bytes.Equal(o.Hash, h) {
			return cp(o), nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memStore) ListKeys(context.Context) ([]*store.Key, error) {
	m.lists.Add(1)
	if m.listGate != nil {
		<-m.listGate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listErr != nil {
		return nil, m.listErr
	}
	out := make([]*store.Key, 0, len(m.keys))
	for _, o := range m.keys {
		out = append(out, cp(o))
	}
	return out, nil
}

// fakeTokens is a TokenCounter returning a fixed total and counting calls.
type fakeTokens struct {
	total int64
	calls atomic.Int64
	since []time.Time
	mu    sync.Mutex
}

func (f *fakeTokens) KeyTokensSince(_ context.Context, _ int64, since time.Time) (int64, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.since = append(f.since, since)
	f.mu.Unlock()
	return f.total, nil
}

// clock is an injectable, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

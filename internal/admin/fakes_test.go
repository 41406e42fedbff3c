package admin

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// fakeAccounts keeps secrets like the real pool would, and shows views.
type fakeAccounts struct {
	mu    sync.Mutex
	accts []*store.Account
	added []AddAccount
}

var _ Accounts = (*fakeAccounts)(nil)

const refusedToken = "refused-token-SECRET"

func (f *fakeAccounts) view(a *store.Account) AccountView {
	prefix := ""
	if len(a.Token) > 4 {
		prefix = a.Token[:4]
	}
	return AccountView{ID: a.ID, Name: a.Name, Email: a.Email, State: string(a.State), TokenPrefix: prefix,
		HasPassword: a.Password != "", Proxy: maskProxy(a.Proxy), Models: []string{"qwen-max"}}
}

func maskProxy(p string) string {
	if p == "" {
		return ""
	}
	return "http://***@proxy"
}

func (f *fakeAccounts) Add(_ context.Context, in AddAccount) (AccountView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Token == refusedToken {
		return AccountView{}, upstream.Errorf(upstream.KindUnauthorized, "token rejected by Qwen Chat (401)")
	}
	name := in.Name
	if name == "" {
		name = in.Email
	}
	for _, a := range f.accts {
		if a.Name == name {
			return AccountView{}, store.ErrConflict
		}
	}
	f.added = append(f.added, in)
	a := &store.Account{ID: int64(len(f.accts) + 1), Name: name, Email: in.Email, Password: in.Password,
		Token: in.Token, Proxy: in.Proxy, State: store.StateActive}
	f.accts = append(f.accts, a)
	return f.view(a), nil
}

func (f *fakeAccounts) Update(_ context.Context, id int64, in UpdateAccount) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accts {
		if a.ID != id {
			continue
		}
		if in.Name != nil {
			a.Name = *in.Name
		}
		if in.Token != nil {
			a.Token = *in.Token
		}
		if in.Proxy != nil {
			a.Proxy = *in.Proxy
		}
		if in.MaxConcurrent != nil {
			a.MaxConcurrent = *in.MaxConcurrent
		}
		if in.MinInterval != nil {
			a.MinInterval = *in.MinInterval
		}
		return nil
	}
	return store.ErrNotFound
}

func (f *fakeAccounts) List(context.Context) ([]AccountView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AccountView
	for _, a := range f.accts {
		out = append(out, f.view(a))
	}
	return out, nil
}

func (f *fakeAccounts) find(id int64) (*store.Account, error) {
	for _, a := range f.accts {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, store.ErrNotFound
}

func (f *fakeAccounts) SetDisabled(_ context.Context, id int64, disabled bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.find(id)
	if err != nil {
		return err
	}
	a.State = store.StateActive
	if disabled {
		a.State = store.StateDisabled
	}
	return nil
}

func (f *fakeAccounts) Delete(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.find(id); err != nil {
		return err
	}
	f.accts = slices.DeleteFunc(f.accts, func(a *store.Account) bool { return a.ID == id })
	return nil
}

func (f *fakeAccounts) Test(_ context.Context, id int64) (AccountView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, err := f.find(id)
	if err != nil {
		return AccountView{}, err
	}
	return f.view(a), nil
}

// memKeys is an in-memory store.KeyStore.
type memKeys struct {
	mu   sync.Mutex
	keys []store.Key
}

func (m *memKeys) CreateKey(_ context.Context, k *store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k.ID, k.CreatedAt = int64(len(m.keys)+1), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	m.keys = append(m.keys, *k)
	return nil
}

func (m *memKeys) UpdateKey(_ context.Context, k *store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].ID == k.ID {
			m.keys[i] = *k
			return nil
		}
	}
	return store.ErrNotFound
}

func (m *memKeys) GetKey(_ context.Context, id int64) (*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.ID == id {
			return &k, nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memKeys) GetKeyByHash(_ context.Context, h []byte) (*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if bytes.Equal(k.Hash, h) {
			return &k, nil
		}
	}
	return nil, store.ErrNotFound
}

func (m *memKeys) ListKeys(context.Context) ([]*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*store.Key, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, &k)
	}
	return out, nil
}

// memUsage records the filters it was asked for.
type memUsage struct {
	mu      sync.Mutex
	filters []store.UsageFilter
	rows    []store.UsageRecord
}

func (m *memUsage) InsertUsage(context.Context, []store.UsageRecord) error { return nil }

func (m *memUsage) QueryUsage(_ context.Context, f store.UsageFilter) ([]store.UsageRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters = append(m.filters, f)
	return m.rows, nil
}

func (m *memUsage) DailyTotals(_ context.Context, f store.UsageFilter) ([]store.DailyTotal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters = append(m.filters, f)
	return []store.DailyTotal{{Day: "2025-03-01", Requests: 3, PromptTokens: 10, CompletionTokens: 5}}, nil
}

func (m *memUsage) KeyTokensSince(context.Context, int64, time.Time) (int64, error) { return 0, nil }
func (m *memUsage) DeleteUsageBefore(context.Context, time.Time) (int64, error)     { return 0, nil }

func (m *memUsage) lastFilter() store.UsageFilter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.filters[len(m.filters)-1]
}

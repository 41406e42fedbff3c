package pool

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const model = "qwen3.7-plus"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)} }

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

// env is an emulator, a real qwen.Client, an in-memory store, a pool and a
// relay using the pool.
type env struct {
	t      *testing.T
	fake   *qwenfake.Server
	client *qwen.Client
	st     *memstore.Accounts
	pool   *Pool
	relay  *relay.Relay
	obs    *observer
}

// newEnv builds an env; opts.Now nil means the real clock (the emulator
// uses it for token expiry).
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	fake := qwenfake.New(qwenfake.Options{DefaultTokens: 3})
	srv := httptest.NewServer(fake)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 100}
	t.Cleanup(func() { fake.Close(); srv.Close(); tr.CloseIdleConnections() })
	client, err := qwen.New(qwen.Options{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, fake: fake, client: client, st: memstore.New(), obs: &observer{}}
	e.pool = New(opts, e.st, client, NewMemoryLive(), e.obs, nil)
	e.relay = relay.New(client, relay.Options{Attempts: 3, Backoff: time.Millisecond}, nil, nil)
	return e
}

// account stores an account for a new emulator user and loads it. ttl is
// the token lifetime (< 0: expired); password "" makes a token-only account.
func (e *env) account(name string, ttl time.Duration, password string, edit func(*store.Account)) (uid string, a *store.Account) {
	e.t.Helper()
	email := name + "@example.com"
	signIn := password
	if signIn == "" {
		signIn = "not-known-to-the-pool"
	}
	uid = e.fake.AddUser(email, signIn)
	a = &store.Account{Name: name, Token: e.fake.MintToken(uid, ttl), State: store.StateActive}
	if password != "" {
		a.Email, a.Password = email, password
	}
	if edit != nil {
		edit(a)
	}
	if err := e.st.CreateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	if err := e.pool.Load(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return uid, a
}

// ask runs one answer through the relay and returns the credential that
// served it.
func (e *env) ask(ctx context.Context, text string) (string, error) {
	req := &upstream.ChatRequest{Model: model, Messages: []upstream.Message{{Role: "user", Content: text}}}
	s, err := e.relay.Open(ctx, e.pool, req)
	if err != nil {
		return "", err
	}
	defer s.Close()
	for {
		if _, err := s.Next(); err == io.EOF {
			return s.CredentialID, nil
		} else if err != nil {
			return s.CredentialID, err
		}
	}
}

func (e *env) status(id int64) AccountStatus {
	e.t.Helper()
	e.pool.Wait() // outcomes are saved in the background
	for _, s := range e.pool.Status(context.Background()) {
		if s.ID == id {
			return s
		}
	}
	e.t.Fatalf("account %d not in Status", id)
	return AccountStatus{}
}

func (e *env) stored(id int64) *store.Account {
	e.t.Helper()
	e.pool.Wait()
	a, err := e.st.GetAccount(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// observer counts state changes.
type observer struct {
	mu sync.Mutex
	n  map[store.AccountState]int
}

func (o *observer) StateChange(from, to store.AccountState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[store.AccountState]int{}
	}
	o.n[to]++
	_ = from
}

func (o *observer) count(s store.AccountState) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[s]
}

package main

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// relayPool opens the store of e the way a running relay does (another
// pool on the same database file).
func (e *cliEnv) relayPool(ctx context.Context) *pool.Pool {
	e.t.Helper()
	c := &cli{getenv: e.getenv, stdout: io.Discard, stderr: io.Discard}
	tl := c.newTool("relay", "relay", "")
	if err := tl.parse(nil, 0, 0); err != nil {
		e.t.Fatal(err)
	}
	env, err := c.open(ctx, tl, false, true)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(env.close)
	return env.pool
}

// Regression test for issue #6: `qwenrelay accounts disable 2` run while
// the relay was saving state changes of account 2 was overwritten by the
// relay's next save, and the account came back into use. Here a relay pool
// keeps cooling account 2 (quota answers) and probing it back to active
// from several goroutines while the CLI disables it; the disable must hold
// in the store and, once the relay reloaded, in the relay.
func TestAccountsDisableHoldsWhileRelaySaves(t *testing.T) {
	ctx := context.Background()
	e := newCLIEnv(t)
	e.vars["QWENRELAY_ACCOUNT_MIN_INTERVAL"] = "0s" // no pacing: many state changes
	e.vars["QWENRELAY_ACCOUNT_MAX_CONCURRENT"] = "50"
	e.ok("", "accounts", "add", "--token", e.token("one"), "--name", "one")
	e.ok("", "accounts", "add", "--token", e.token("two"), "--name", "two")
	p := e.relayPool(ctx)

	cctx, cancel := context.WithCancel(ctx)
	var rounds atomic.Int64
	var wg sync.WaitGroup
	served2 := make(chan struct{}, 1)
	var after atomic.Bool // set once the relay reloaded after the disable
	for range 4 {
		wg.Go(func() { // requests: account 2 answers "daily quota"
			for cctx.Err() == nil {
				reloaded := after.Load() // the lease is asked for after the reload
				l, err := p.Acquire(cctx, relay.Want{})
				var nc *relay.NoCredentialError
				if errors.As(err, &nc) || errors.Is(err, context.Canceled) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				var outcome error
				if l.(interface{ AccountID() int64 }).AccountID() == 2 {
					if reloaded {
						select {
						case served2 <- struct{}{}:
						default:
						}
					}
					outcome = &upstream.Error{Kind: upstream.KindQuota, RetryAfter: time.Hour}
				}
				l.Release(outcome)
				if outcome != nil {
					rounds.Add(1)
				}
			}
		})
	}
	wg.Go(func() { // health checks: a cooling account 2 probed back to active
		for cctx.Err() == nil {
			if st := p.Status(cctx); len(st) == 2 && st[1].State == store.StateCooling {
				_, _ = p.TestAccount(cctx, 2)
				rounds.Add(1)
			}
			runtime.Gosched()
		}
	})
	// waitFor returns after n more state changes of account 2 by the
	// relay, or once the relay itself shows it disabled (it stops
	// changing it then).
	waitFor := func(n int64) {
		for target := rounds.Load() + n; rounds.Load() < target; runtime.Gosched() {
			if st := p.Status(ctx); len(st) == 2 && st[1].State == store.StateDisabled {
				return
			}
		}
	}
	waitFor(20)
	e.ok("", "accounts", "disable", "2")
	waitFor(20) // the relay goes on saving what it believes
	if err := p.Load(ctx); err != nil {
		t.Fatal(err)
	}
	after.Store(true)
	for range 200 { // requests after the reload
		l, err := p.Acquire(ctx, relay.Want{})
		if err != nil {
			t.Error(err)
			break
		}
		if l.(interface{ AccountID() int64 }).AccountID() == 2 {
			t.Error("the relay handed out account 2 after the disable and a reload")
		}
		l.Release(nil)
	}
	cancel()
	wg.Wait()
	select {
	case <-served2:
		t.Error("the relay handed out account 2 after the disable and a reload")
	default:
	}
	for _, a := range e.accounts() {
		if a.ID == 2 && a.State != store.StateDisabled {
			t.Fatalf("stored account 2 is %s (%s), want disabled", a.State, a.Reason)
		}
	}
}

// TestAccountsUpdate: the update command changes only what it is given.
func TestAccountsUpdate(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("", "accounts", "add", "--token", e.token("one"), "--name", "one")
	tok := e.token("one-new")
	out := e.ok(tok+"\n", "accounts", "update", "1", "--token", "-", "--max-concurrent", "4", "--name", "uno")
	wantContains(t, out, "account 1 updated", "uno")
	a := e.accounts()[0]
	if a.Name != "uno" || a.MaxConcurrent != 4 || a.State != store.StateActive || a.TokenPrefix != secrets.Mask(tok) {
		t.Fatalf("after update: %+v", a)
	}
	e.assertNotOnDisk(tok)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to change", []string{"accounts", "update", "1"}, "give at least one"},
		{"placeholder token", []string{"accounts", "update", "1", "--token", "eyJhbGciOi..."}, "not a JWT"},
		{"unknown account", []string{"accounts", "update", "9", "--max-concurrent", "1"}, "list command"},
		{"negative limit", []string{"accounts", "update", "1", "--max-concurrent", "-1"}, ">= 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantContains(t, e.fail("", tc.args...), tc.want)
		})
	}
}

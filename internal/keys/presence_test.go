package keys

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// AnyKeys answers whether the server must demand a key from everyone.
func TestAnyKeys(t *testing.T) {
	ctx := context.Background()
	type step struct {
		name  string
		do    func(s *Service, st *memStore, clk *clock)
		want  bool
		lists int64 // store queries made so far
	}
	otherProcessCreates := func(_ *Service, st *memStore, clk *clock) {
		// Another process (the CLI) writes the store directly.
		if err := st.CreateKey(ctx, &store.Key{Name: "cli", Hash: []byte("h1")}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"created by this process: seen at once", []step{
			{"empty store", func(*Service, *memStore, *clock) {}, false, 1},
			{"cached", func(*Service, *memStore, *clock) {}, false, 1},
			{"create", func(s *Service, _ *memStore, _ *clock) {
				if _, _, err := s.Create(ctx, CreateParams{Name: "a"}); err != nil {
					t.Fatal(err)
				}
			}, true, 1},
		}},
		{"created by another process: seen within the TTL", []step{
			{"empty store", func(*Service, *memStore, *clock) {}, false, 1},
			{"CLI creates, cache still fresh", otherProcessCreates, false, 1},
			{"TTL passes", func(_ *Service, _ *memStore, clk *clock) { clk.Add(DefaultPresenceTTL) }, true, 2},
		}},
		{"revoked and expired keys still count", []step{
			{"revoked key", func(_ *Service, st *memStore, _ *clock) {
				_ = st.CreateKey(ctx, &store.Key{Name: "old", Hash: []byte("h2"), RevokedAt: t0.Add(-time.Hour)})
			}, true, 1},
			{"expired key", func(_ *Service, st *memStore, clk *clock) {
				st.keys[0].RevokedAt, st.keys[0].ExpiresAt = time.Time{}, t0.Add(-time.Minute)
				clk.Add(DefaultPresenceTTL)
			}, true, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st, clk, _ := newTestService(t)
			for _, sp := range tt.steps {
				sp.do(s, st, clk)
				got, err := s.AnyKeys(ctx)
				if err != nil || got != sp.want {
					t.Fatalf("%s: AnyKeys = %v, %v; want %v", sp.name, got, err, sp.want)
				}
				if n := st.lists.Load(); n != sp.lists {
					t.Fatalf("%s: %d store queries, want %d", sp.name, n, sp.lists)
				}
			}
		})
	}
}

func TestAnyKeysStoreError(t *testing.T) {
	s, st, clk, _ := newTestService(t)
	st.listErr = errors.New("disk on fire")
	if _, err := s.AnyKeys(context.Background()); err == nil {
		t.Fatal("a store error must be reported (the server then fails closed)")
	}
	st.listErr = nil
	if got, err := s.AnyKeys(context.Background()); err != nil || got {
		t.Fatalf("errors must not be cached: %v %v", got, err)
	}
	clk.Add(time.Second)
	if _, _, err := s.Create(context.Background(), CreateParams{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AnyKeys(context.Background()); !got {
		t.Fatal("a created key must be seen at once")
	}
}

// A stale "no keys" answer from a query that raced with Create must not
// hide the new key.
func TestAnyKeysCreateWinsOverOlderAnswer(t *testing.T) {
	s, _, _, _ := newTestService(t)
	s.sawKey()
	s.notePresence(false) // an answer read before the key was committed
	if got, _ := s.AnyKeys(context.Background()); !got {
		t.Fatal("the older 'no keys' answer replaced a fresh creation")
	}
}

// A caller whose context ends stops waiting for a slow store; the shared
// query is not cancelled with it and still answers the others.
func TestAnyKeysHonoursContext(t *testing.T) {
	s, st, _, _ := newTestService(t)
	st.listGate = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.AnyKeys(ctx)
		done <- err
	}()
	for st.lists.Load() == 0 {
		time.Sleep(time.Millisecond) // wait for the query to start
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	other := make(chan bool, 1)
	go func() {
		got, _ := s.AnyKeys(context.Background())
		other <- got
	}()
	close(st.listGate)
	if <-other {
		t.Fatal("empty store reported keys")
	}
	if n := st.lists.Load(); n != 1 {
		t.Fatalf("%d store queries, want 1 shared one", n)
	}
}

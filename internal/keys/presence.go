package keys

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultPresenceTTL is how long the answer of AnyKeys is reused before the
// store is asked again. Keys created by this process are seen at once; keys
// created by another process (the CLI, another replica) within this time.
const DefaultPresenceTTL = 3 * time.Second

// presenceTimeout bounds one store query made for AnyKeys; the query is
// shared by every caller waiting for it, so it does not run on any single
// caller's context.
const presenceTimeout = 10 * time.Second

// presence caches whether the store holds any client key.
type presence struct {
	ttl time.Duration
	sf  singleflight.Group

	mu    sync.Mutex
	known bool
	any   bool
	until time.Time
}

// WithPresenceTTL sets how long the AnyKeys answer is cached; 0 asks the
// store on every call.
func WithPresenceTTL(d time.Duration) Option { return func(s *Service) { s.presence.ttl = d } }

// AnyKeys reports whether any client key exists in the store, revoked and
// expired ones included: once an operator has issued a key, every caller
// must present a valid one (loopback callers too). The answer is cached for
// the presence TTL; a key created through this Service is seen at once. On a
// store error the caller should fail closed (treat it as true).
func (s *Service) AnyKeys(ctx context.Context) (bool, error) {
	p := &s.presence
	now := s.now()
	p.mu.Lock()
	if p.known && now.Before(p.until) {
		v := p.any
		p.mu.Unlock()
		return v, nil
	}
	p.mu.Unlock()
	ch := p.sf.DoChan("any", func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceTimeout)
		defer cancel()
		ks, err := s.st.ListKeys(qctx)
		if err != nil {
			return false, fmt.Errorf("keys: any keys: %w", err)
		}
		s.notePresence(len(ks) > 0)
		return len(ks) > 0, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return false, r.Err
		}
		return r.Val.(bool), nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// notePresence records the store's answer. A key created meanwhile by this
// process wins over an older "no keys" answer.
func (s *Service) notePresence(any bool) {
	p := &s.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known && p.any && !any && s.now().Before(p.until) {
		return
	}
	p.known, p.any, p.until = true, any, s.now().Add(p.ttl)
}

// sawKey records that a key now exists (this process just created one).
func (s *Service) sawKey() {
	p := &s.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	p.known, p.any, p.until = true, true, s.now().Add(p.ttl)
}

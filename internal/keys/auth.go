package keys

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Authenticate returns the key for a plain key, or ErrUnknownKey, ErrRevoked
// or ErrExpired. Results are cached for the cache TTL so the store is not
// hit per request; Revoke and Update in this process clear the cache, other
// processes see changes within the TTL. Expiry is checked on every call.
func (s *Service) Authenticate(ctx context.Context, plain string) (*store.Key, error) {
	if !wellFormed(plain) {
		return nil, ErrUnknownKey
	}
	h := hashKey(plain)
	now := s.now()
	k, err, ok := s.cached(h)
	if !ok {
		k, err = s.lookup(ctx, h)
		if err != nil && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrRevoked) {
			return nil, err // store trouble: not cached
		}
		s.remember(h, k, err)
	}
	if err != nil {
		return nil, err
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return nil, ErrExpired
	}
	return cloneKey(k), nil
}

// lookup reads the key by hash and confirms the hash in constant time.
func (s *Service) lookup(ctx context.Context, h [32]byte) (*store.Key, error) {
	k, err := s.st.GetKeyByHash(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, fmt.Errorf("keys: authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare(k.Hash, h[:]) != 1 {
		return nil, ErrUnknownKey
	}
	if !k.RevokedAt.IsZero() {
		return nil, ErrRevoked
	}
	return k, nil
}

func (s *Service) cached(h [32]byte) (*store.Key, error, bool) {
	if s.cacheTTL <= 0 {
		return nil, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache[h]
	if !ok || !s.now().Before(e.expires) {
		return nil, nil, false
	}
	return e.key, e.err, true
}

func (s *Service) remember(h [32]byte, k *store.Key, err error) {
	if s.cacheTTL <= 0 {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCacheEntries {
		for kh, e := range s.cache {
			if !now.Before(e.expires) {
				delete(s.cache, kh)
			}
		}
		if len(s.cache) >= maxCacheEntries {
			clear(s.cache) // a flood of distinct keys: start over rather than grow
		}
	}
	s.cache[h] = cacheEntry{key: k, err: err, expires: now.Add(s.cacheTTL)}
}

// invalidate drops every cached result (changes are rare; this is simplest).
func (s *Service) invalidate() {
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
}

func cloneKey(k *store.Key) *store.Key {
	c := *k
	c.Hash = slices.Clone(k.Hash)
	c.AllowedModels = slices.Clone(k.AllowedModels)
	return &c
}

// Package keys manages client API keys: issuing them (stored only as a
// SHA-256 hash and a display prefix), authenticating callers with a short
// in-memory cache, and enforcing each key's limits (allowed models, requests
// per minute, concurrent requests, daily tokens).
package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Authentication errors. Their messages never contain the key.
var (
	ErrUnknownKey = errors.New("keys: unknown API key")
	ErrRevoked    = errors.New("keys: API key revoked")
	ErrExpired    = errors.New("keys: API key expired")
)

// ValidationError is bad input to Create or Update; Param names the field.
type ValidationError struct {
	Param   string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// TokenCounter reports a key's tokens (prompt+completion) since a time;
// store.UsageStore satisfies it.
type TokenCounter interface {
	KeyTokensSince(ctx context.Context, keyID int64, since time.Time) (int64, error)
}

// Default cache settings.
const (
	DefaultCacheTTL = 5 * time.Second
	maxCacheEntries = 10000
)

// Service issues, authenticates and limits client keys. It is safe for
// concurrent use.
type Service struct {
	st       store.KeyStore
	now      func() time.Time
	usage    TokenCounter
	counters Counters
	cacheTTL time.Duration
	presence presence

	mu    sync.Mutex
	cache map[[32]byte]cacheEntry
}

type cacheEntry struct {
	key     *store.Key // nil when err is set
	err     error      // ErrUnknownKey or ErrRevoked (negative caching)
	expires time.Time
}

// Option tunes a Service.
type Option func(*Service)

// WithCounters replaces the in-memory live counters (for a shared backend).
func WithCounters(c Counters) Option { return func(s *Service) { s.counters = c } }

// WithCacheTTL sets how long an authentication result is cached; 0 disables
// the cache.
func WithCacheTTL(d time.Duration) Option { return func(s *Service) { s.cacheTTL = d } }

// NewService builds a Service. now defaults to time.Now; usage may be nil
// when no key has a daily token quota.
func NewService(st store.KeyStore, now func() time.Time, usage TokenCounter, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{st: st, now: now, usage: usage, cacheTTL: DefaultCacheTTL, cache: map[[32]byte]cacheEntry{}}
	s.presence.ttl = DefaultPresenceTTL
	for _, o := range opts {
		o(s)
	}
	if s.counters == nil {
		s.counters = NewMemoryCounters()
	}
	return s
}

// CreateParams describes a new key. Zero limits mean unlimited; a zero
// ExpiresAt means never; empty AllowedModels means all models.
type CreateParams struct {
	Name            string
	ExpiresAt       time.Time
	AllowedModels   []string
	RPM             int
	MaxConcurrent   int
	DailyTokenQuota int64
}

// UpdateParams changes a key; nil fields are left as they are. A zero
// *ExpiresAt clears the expiry; an empty *AllowedModels allows all models.
type UpdateParams struct {
	Name            *string
	ExpiresAt       *time.Time
	AllowedModels   *[]string
	RPM             *int
	MaxConcurrent   *int
	DailyTokenQuota *int64
}

// Create issues a key. The plain key is returned once and never stored.
func (s *Service) Create(ctx context.Context, p CreateParams) (string, *store.Key, error) {
	k := &store.Key{
		Name: strings.TrimSpace(p.Name), ExpiresAt: p.ExpiresAt, AllowedModels: cleanModels(p.AllowedModels),
		RPM: p.RPM, MaxConcurrent: p.MaxConcurrent, DailyTokenQuota: p.DailyTokenQuota,
	}
	if err := s.validate(k, true); err != nil {
		return "", nil, err
	}
	plain, err := newPlainKey()
	if err != nil {
		return "", nil, err
	}
	h := hashKey(plain)
	k.Hash, k.Prefix = h[:], displayPrefix(plain)
	if err := s.st.CreateKey(ctx, k); err != nil {
		return "", nil, fmt.Errorf("keys: create: %w", err)
	}
	s.sawKey()
	return plain, k, nil
}

// List returns every key, revoked ones included.
func (s *Service) List(ctx context.Context) ([]*store.Key, error) {
	ks, err := s.st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	return ks, nil
}

// Get returns one key (store.ErrNotFound when missing).
func (s *Service) Get(ctx context.Context, id int64) (*store.Key, error) {
	k, err := s.st.GetKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("keys: get %d: %w", id, err)
	}
	return k, nil
}

// Revoke switches a key off for good. Revoking twice is not an error; the
// first revocation time is kept.
func (s *Service) Revoke(ctx context.Context, id int64) error {
	k, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = s.now()
		if err := s.st.UpdateKey(ctx, k); err != nil {
			return fmt.Errorf("keys: revoke %d: %w", id, err)
		}
	}
	s.invalidate()
	return nil
}

// Update changes a key's name, expiry, models or limits.
func (s *Service) Update(ctx context.Context, id int64, p UpdateParams) (*store.Key, error) {
	k, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Name != nil {
		k.Name = strings.TrimSpace(*p.Name)
	}
	if p.ExpiresAt != nil {
		k.ExpiresAt = *p.ExpiresAt
	}
	if p.AllowedModels != nil {
		k.AllowedModels = cleanModels(*p.AllowedModels)
	}
	if p.RPM != nil {
		k.RPM = *p.RPM
	}
	if p.MaxConcurrent != nil {
		k.MaxConcurrent = *p.MaxConcurrent
	}
	if p.DailyTokenQuota != nil {
		k.DailyTokenQuota = *p.DailyTokenQuota
	}
	if err := s.validate(k, p.ExpiresAt != nil); err != nil {
		return nil, err
	}
	if err := s.st.UpdateKey(ctx, k); err != nil {
		return nil, fmt.Errorf("keys: update %d: %w", id, err)
	}
	s.invalidate()
	return k, nil
}

func (s *Service) validate(k *store.Key, checkExpiry bool) error {
	switch {
	case len(k.Name) > 200:
		return &ValidationError{Param: "name", Message: "name must be at most 200 characters"}
	case k.RPM < 0:
		return &ValidationError{Param: "rpm", Message: "rpm must be 0 (unlimited) or positive"}
	case k.MaxConcurrent < 0:
		return &ValidationError{Param: "max_concurrent", Message: "max_concurrent must be 0 (unlimited) or positive"}
	case k.DailyTokenQuota < 0:
		return &ValidationError{Param: "daily_token_quota", Message: "daily_token_quota must be 0 (unlimited) or positive"}
	case checkExpiry && !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(s.now()):
		return &ValidationError{Param: "expires_at", Message: "expires_at must be in the future"}
	}
	return nil
}

// cleanModels trims, drops empties and duplicates; nil means all models.
func cleanModels(in []string) []string {
	var out []string
	for _, m := range in {
		m = strings.TrimSpace(m)
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

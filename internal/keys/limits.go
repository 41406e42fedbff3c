package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Limit names used in LimitError.Limit.
const (
	LimitRPM         = "rpm"
	LimitConcurrency = "concurrency"
	LimitDailyTokens = "daily_tokens"
)

// concurrencyRetryAfter is the hint sent when a key has too many requests in
// flight (a slot usually frees within seconds).
const concurrencyRetryAfter = time.Second

// LimitError is a key over one of its limits; serve it as 429
// rate_limit_error with a Retry-After header when RetryAfter > 0.
type LimitError struct {
	Limit      string // LimitRPM, LimitConcurrency or LimitDailyTokens
	Message    string
	RetryAfter time.Duration
}

func (e *LimitError) Error() string { return e.Message }

// ModelNotAllowedError is a key asking for a model outside its allow-list;
// serve it as 403 permission_error. The message names the allowed models.
type ModelNotAllowedError struct {
	Model   string
	Allowed []string
}

func (e *ModelNotAllowedError) Error() string {
	return fmt.Sprintf("this API key may not use model %q; allowed models: %s", e.Model, strings.Join(e.Allowed, ", "))
}

// Admit checks key's limits for one request to model, in this order:
// allowed models, requests per minute, concurrent requests, daily tokens.
// On success the caller must call release exactly once when the request
// ends, with the prompt+completion tokens it used (later calls are no-ops).
// A rejected request does not consume any budget.
func (s *Service) Admit(ctx context.Context, key *store.Key, model string) (release func(tokens int64), err error) {
	if len(key.AllowedModels) > 0 && !slices.Contains(key.AllowedModels, model) {
		return nil, &ModelNotAllowedError{Model: model, Allowed: slices.Clone(key.AllowedModels)}
	}
	now := s.now()
	var undo []func()
	fail := func(err error) (func(int64), error) {
		for _, u := range slices.Backward(undo) {
			u()
		}
		return nil, err
	}
	if key.RPM > 0 {
		wait, u, err := s.counters.TakeRequest(ctx, key.ID, key.RPM, now)
		if err != nil {
			return fail(fmt.Errorf("keys: rpm limit: %w", err))
		}
		if wait > 0 {
			return fail(&LimitError{Limit: LimitRPM, RetryAfter: wait,
				Message: fmt.Sprintf("rate limit reached for this API key: %d requests per minute; retry after %s", key.RPM, ceilSecond(wait))})
		}
		undo = append(undo, u)
	}
	// The release path outlives the request: keep its values, drop its cancellation.
	bg := context.WithoutCancel(ctx)
	if key.MaxConcurrent > 0 {
		ok, err := s.counters.Acquire(ctx, key.ID, key.MaxConcurrent)
		if err != nil {
			return fail(fmt.Errorf("keys: concurrency limit: %w", err))
		}
		if !ok {
			return fail(&LimitError{Limit: LimitConcurrency, RetryAfter: concurrencyRetryAfter,
				Message: fmt.Sprintf("too many concurrent requests for this API key (limit %d); retry when one finishes", key.MaxConcurrent)})
		}
		undo = append(undo, func() { s.counters.Release(bg, key.ID) })
	}
	day := utcDay(now)
	if key.DailyTokenQuota > 0 {
		if err := s.checkDaily(ctx, key, now, day); err != nil {
			return fail(err)
		}
	}
	var once sync.Once
	keyID, conc := key.ID, key.MaxConcurrent > 0
	return func(tokens int64) {
		once.Do(func() {
			if conc {
				s.counters.Release(bg, keyID)
			}
			if tokens > 0 {
				s.counters.AddTokens(bg, keyID, day, tokens)
			}
		})
	}, nil
}

func (s *Service) checkDaily(ctx context.Context, key *store.Key, now, day time.Time) error {
	used, err := s.counters.DayTokens(ctx, key.ID, day, func(ctx context.Context) (int64, error) {
		if s.usage == nil {
			return 0, nil
		}
		return s.usage.KeyTokensSince(ctx, key.ID, day)
	})
	if err != nil {
		return fmt.Errorf("keys: daily token quota: %w", err)
	}
	if used < key.DailyTokenQuota {
		return nil
	}
	wait := day.Add(24 * time.Hour).Sub(now)
	return &LimitError{Limit: LimitDailyTokens, RetryAfter: wait,
		Message: fmt.Sprintf("this API key has used its daily token quota (%d of %d tokens); it resets at 00:00 UTC, in %s",
			used, key.DailyTokenQuota, ceilSecond(wait))}
}

// utcDay is the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

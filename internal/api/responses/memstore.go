package responses

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// MemoryStore is a Store in memory, for tests and for running without a
// database. It is safe for concurrent use.
type MemoryStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]store.StoredResponse
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store; now may be nil (time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, m: map[string]store.StoredResponse{}}
}

func (s *MemoryStore) live(r store.StoredResponse) bool {
	return r.ExpiresAt.IsZero() || r.ExpiresAt.After(s.now())
}

// PutResponse keeps a copy of r.
func (s *MemoryStore) PutResponse(_ context.Context, r *store.StoredResponse) error {
	if r.ID == "" {
		return fmt.Errorf("responses: memory store: empty id")
	}
	c := *r
	c.Conversation = append([]byte(nil), r.Conversation...)
	c.Body = append([]byte(nil), r.Body...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[r.ID] = c
	return nil
}

// GetResponse returns a copy of the live record with id.
func (s *MemoryStore) GetResponse(_ context.Context, id string) (*store.StoredResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok || !s.live(r) {
		return nil, fmt.Errorf("responses: memory store: %w", store.ErrNotFound)
	}
	r.Conversation = append([]byte(nil), r.Conversation...)
	r.Body = append([]byte(nil), r.Body...)
	return &r, nil
}

// DeleteResponse removes the record with id.
func (s *MemoryStore) DeleteResponse(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	delete(s.m, id)
	if !ok || !s.live(r) {
		return fmt.Errorf("responses: memory store: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteExpiredResponses removes the records expired at or before t.
func (s *MemoryStore) DeleteExpiredResponses(_ context.Context, t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.m {
		if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(t) {
			delete(s.m, id)
			n++
		}
	}
	return n, nil
}

// Len is the number of records, live or not (tests).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

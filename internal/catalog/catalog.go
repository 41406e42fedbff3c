// Package catalog is the model list: the upstream's models cached with a
// TTL (refreshed by one caller at a time, served stale while the upstream is
// down), their -thinking variants, the operator's aliases
// (QWENRELAY_MODEL_ALIASES) and the resolution of a client's model name.
package catalog

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// ThinkingSuffix selects reasoning on a model that supports it.
const ThinkingSuffix = "-thinking"

// SearchSuffix selects the upstream's web search mode on a model that
// supports it (docs/qwen-protocol.md §6.2, §8); it combines with
// -thinking as -thinking-search.
const SearchSuffix = "-search"

// retryFailedRefreshAfter keeps a down upstream from being asked on every
// request while a stale list is served.
const retryFailedRefreshAfter = 30 * time.Second

// Model is a public model id mapped to the upstream's.
type Model struct {
	Public   string         // the id clients see (with its variant suffix)
	Upstream upstream.Model // the upstream model it runs on
	Thinking bool           // the id carried the -thinking suffix
	Search   bool           // the id carried the -search suffix
}

// Catalog holds the upstream model list: refreshed after ttl by a single
// caller at a time, served stale while the upstream is down.
type Catalog struct {
	aliases *Aliases
	ttl     time.Duration
	now     func() time.Time
	sf      singleflight.Group

	mu       sync.RWMutex
	list     []Model
	byName   map[string]Model
	fetched  time.Time
	failedAt time.Time
}

// New builds a Catalog; aliases may be nil.
func New(ttl time.Duration, now func() time.Time, aliases *Aliases) *Catalog {
	if ttl <= 0 {
		ttl = time.Hour
	}
	if now == nil {
		now = time.Now
	}
	return &Catalog{ttl: ttl, now: now, aliases: aliases}
}

// FetchFunc lists the upstream's models.
type FetchFunc func(ctx context.Context) ([]upstream.Model, error)

// Get returns the list, refreshing it if stale. It returns an error only when
// there is no list at all.
func (c *Catalog) Get(ctx context.Context, fetch FetchFunc) ([]Model, error) {
	c.mu.RLock()
	list, fetched, failedAt := c.list, c.fetched, c.failedAt
	c.mu.RUnlock()
	now := c.now()
	fresh := !fetched.IsZero() && now.Sub(fetched) < c.ttl
	recentlyFailed := !failedAt.IsZero() && now.Sub(failedAt) < retryFailedRefreshAfter
	if fresh || (list != nil && recentlyFailed) {
		return list, nil
	}
	ch := c.sf.DoChan("models", func() (any, error) {
		// Detached from any one caller, so a client leaving does not fail the
		// refresh for everyone waiting on it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		models, err := fetch(fctx)
		c.store(models, err)
		return nil, err
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		c.mu.RLock()
		list = c.list
		c.mu.RUnlock()
		if list == nil {
			return nil, res.Err
		}
		return list, nil
	}
}

func (c *Catalog) store(models []upstream.Model, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || len(models) == 0 {
		c.failedAt = c.now()
		return
	}
	list := make([]Model, 0, 2*len(models))
	byName := make(map[string]Model, 4*len(models))
	for _, m := range models {
		for _, v := range variants(m) {
			list = append(list, v)
			byName[strings.ToLower(v.Public)] = v
			if m.Name == "" {
				continue
			}
			name := strings.ToLower(m.Name + v.Public[len(m.ID):])
			if _, taken := byName[name]; !taken {
				byName[name] = v
			}
		}
	}
	c.list, c.byName, c.fetched, c.failedAt = list, byName, c.now(), time.Time{}
}

// variants are the public models of one upstream model: the model itself,
// then -thinking, -search and -thinking-search where it can do them.
func variants(m upstream.Model) []Model {
	out := []Model{{Public: m.ID, Upstream: m}}
	if m.Thinking {
		out = append(out, Model{Public: m.ID + ThinkingSuffix, Upstream: m, Thinking: true})
	}
	if m.Search {
		out = append(out, Model{Public: m.ID + SearchSuffix, Upstream: m, Search: true})
		if m.Thinking {
			out = append(out, Model{Public: m.ID + ThinkingSuffix + SearchSuffix, Upstream: m, Thinking: true, Search: true})
		}
	}
	return out
}

// Lookup resolves a requested model name (case-insensitive, over ids and
// display names). known is false when no list has been loaded yet.
func (c *Catalog) Lookup(name string) (m Model, found, known bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.byName == nil {
		return Model{}, false, false
	}
	m, found = c.byName[strings.ToLower(strings.TrimSpace(name))]
	return m, found, true
}

// Suggest returns up to three known ids closest to name.
func (c *Catalog) Suggest(name string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	type cand struct {
		id string
		d  int
	}
	name = strings.ToLower(name)
	var cands []cand
	for _, m := range c.list {
		id := strings.ToLower(m.Public)
		d := levenshtein(name, id)
		if strings.Contains(id, name) || strings.Contains(name, id) {
			d /= 2
		}
		cands = append(cands, cand{m.Public, d})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].d < cands[j].d })
	var out []string
	for i := 0; i < len(cands) && i < 3; i++ {
		out = append(out, cands[i].id)
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/qwenrelay/qwenrelay/internal/openai"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// thinkingSuffix selects reasoning on a model that supports it.
const thinkingSuffix = "-thinking"

// retryFailedRefreshAfter keeps a down upstream from being asked on every
// request while a stale list is served.
const retryFailedRefreshAfter = 30 * time.Second

// resolvedModel is a public model id mapped to the upstream's.
type resolvedModel struct {
	public   string
	upstream upstream.Model
	thinking bool // the id carried the -thinking suffix
}

// modelCache holds the upstream model list: refreshed after ttl by a single
// caller at a time, served stale while the upstream is down.
type modelCache struct {
	ttl time.Duration
	now func() time.Time
	sf  singleflight.Group

	mu       sync.RWMutex
	list     []resolvedModel
	byName   map[string]resolvedModel
	fetched  time.Time
	failedAt time.Time
}

func newModelCache(ttl time.Duration, now func() time.Time) *modelCache {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &modelCache{ttl: ttl, now: now}
}

type fetchFunc func(ctx context.Context) ([]upstream.Model, error)

// get returns the list, refreshing it if stale. It returns an error only when
// there is no list at all.
func (c *modelCache) get(ctx context.Context, fetch fetchFunc) ([]resolvedModel, error) {
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

func (c *modelCache) store(models []upstream.Model, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || len(models) == 0 {
		c.failedAt = c.now()
		return
	}
	list := make([]resolvedModel, 0, 2*len(models))
	byName := make(map[string]resolvedModel, 4*len(models))
	for _, m := range models {
		base := resolvedModel{public: m.ID, upstream: m}
		list = append(list, base)
		byName[strings.ToLower(m.ID)] = base
		if m.Name != "" {
			if _, taken := byName[strings.ToLower(m.Name)]; !taken {
				byName[strings.ToLower(m.Name)] = base
			}
		}
		if m.Thinking {
			th := resolvedModel{public: m.ID + thinkingSuffix, upstream: m, thinking: true}
			list = append(list, th)
			byName[strings.ToLower(th.public)] = th
			if m.Name != "" {
				byName[strings.ToLower(m.Name+thinkingSuffix)] = th
			}
		}
	}
	c.list, c.byName, c.fetched, c.failedAt = list, byName, c.now(), time.Time{}
}

// lookup resolves a requested model name (case-insensitive, over ids and
// display names). known is false when no list has been loaded yet.
func (c *modelCache) lookup(name string) (m resolvedModel, found, known bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.byName == nil {
		return resolvedModel{}, false, false
	}
	m, found = c.byName[strings.ToLower(strings.TrimSpace(name))]
	return m, found, true
}

// suggest returns up to three known ids closest to name.
func (c *modelCache) suggest(name string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	type cand struct {
		id string
		d  int
	}
	name = strings.ToLower(name)
	var cands []cand
	for _, m := range c.list {
		id := strings.ToLower(m.public)
		d := levenshtein(name, id)
		if strings.Contains(id, name) || strings.Contains(name, id) {
			d /= 2
		}
		cands = append(cands, cand{m.public, d})
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

// fetcher returns the function that lists upstream models with a credential
// fit for this request.
func (s *Server) fetcher(r *http.Request) fetchFunc {
	client := info(r.Context()).clientCred
	return func(ctx context.Context) ([]upstream.Model, error) {
		if client != nil {
			return s.relay.Provider().ListModels(ctx, *client)
		}
		lease, err := s.picker.Acquire(ctx, relay.Want{})
		if err != nil {
			return nil, err
		}
		models, err := s.relay.Provider().ListModels(ctx, lease.Credential())
		lease.Release(err)
		if err == nil {
			s.metrics.ModelsRefresh("ok")
		} else {
			s.metrics.ModelsRefresh("error")
		}
		return models, err
	}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list, err := s.models.get(r.Context(), s.fetcher(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(list))}
	for _, m := range list {
		out.Data = append(out.Data, publicModel(m))
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.models.get(r.Context(), s.fetcher(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, found, _ := s.models.lookup(id)
	if !found {
		s.writeError(w, r, s.modelNotFound(id))
		return
	}
	writeJSON(w, r, http.StatusOK, publicModel(m))
}

func publicModel(m resolvedModel) openai.Model {
	owner := m.upstream.OwnedBy
	if owner == "" {
		owner = "qwen"
	}
	return openai.Model{ID: m.public, Object: "model", Created: m.upstream.Created, OwnedBy: owner}
}

func (s *Server) modelNotFound(name string) error {
	msg := fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", quoted(name))
	if len(name) > maxQuoted {
		return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
			Message: msg + " GET /v1/models lists the models."} // no edit distance over a huge name
	}
	if sug := s.models.suggest(name); len(sug) > 0 {
		msg += " Did you mean: " + strings.Join(sug, ", ") + "? GET /v1/models lists them all."
	}
	return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model", Message: msg}
}

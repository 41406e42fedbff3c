package video

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore is an in-memory store.VideoStore.
type memStore struct {
	mu   sync.Mutex
	jobs map[string]store.VideoJob
}

func newMemStore() *memStore { return &memStore{jobs: map[string]store.VideoJob{}} }

func (m *memStore) PutVideo(_ context.Context, j *store.VideoJob) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[j.ID] = *j
	return nil
}

func (m *memStore) GetVideo(_ context.Context, id string) (*store.VideoJob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &j, nil
}

func (m *memStore) UnfinishedVideos(context.Context) ([]*store.VideoJob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*store.VideoJob
	for _, j := range m.jobs {
		if !j.Finished() {
			out = append(out, &j)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

func (m *memStore) get(id string) store.VideoJob {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs[id]
}

// picker hands out accounts 1..n; Want.Account pins, Exclude skips.
type picker struct {
	n        int
	mu       sync.Mutex
	released []error
}

type lease struct {
	id int64
	p  *picker
}

func (l *lease) Credential() upstream.Credential {
	return upstream.Credential{ID: fmt.Sprintf("acct-%d", l.id), Token: fmt.Sprintf("tok-%d", l.id)}
}
func (l *lease) AccountID() int64 { return l.id }
func (l *lease) Release(err error) {
	l.p.mu.Lock()
	l.p.released = append(l.p.released, err)
	l.p.mu.Unlock()
}

func (p *picker) Acquire(ctx context.Context, w relay.Want) (relay.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := 1; i <= p.n; i++ {
		id := int64(i)
		if (w.Account > 0 && w.Account != id) || w.Excludes(fmt.Sprintf("acct-%d", id)) {
			continue
		}
		return &lease{id: id, p: p}, nil
	}
	return nil, &relay.NoCredentialError{Message: "no account left"}
}

// provider scripts the upstream: submitErrs are returned by successive
// submissions (then a task id); statuses by successive polls (the last
// repeats); it checks that polls use the submitting account.
type provider struct {
	mu         sync.Mutex
	submitErrs []error
	statuses   []qwen.VideoTask
	pollErr    error
	submitted  map[string]string // task -> credential id
	submits    int
	polls      int
	wrongCred  int
	gate       chan struct{} // when set, SubmitVideo waits on it
	inFlight   int
	maxFlight  int
}

func (p *provider) SubmitVideo(ctx context.Context, cred upstream.Credential, model, prompt, ratio string) (string, error) {
	p.mu.Lock()
	p.inFlight++
	p.maxFlight = max(p.maxFlight, p.inFlight)
	gate := p.gate
	p.mu.Unlock()
	defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.submits++
	if len(p.submitErrs) > 0 {
		err := p.submitErrs[0]
		p.submitErrs = p.submitErrs[1:]
		return "", err
	}
	if p.submitted == nil {
		p.submitted = map[string]string{}
	}
	task := fmt.Sprintf("task-%d", p.submits)
	p.submitted[task] = cred.ID
	return task, nil
}

func (p *provider) VideoStatus(_ context.Context, cred upstream.Credential, task string) (qwen.VideoTask, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	if p.submitted[task] != cred.ID {
		p.wrongCred++
	}
	if p.pollErr != nil {
		return qwen.VideoTask{}, p.pollErr
	}
	t := p.statuses[0]
	if len(p.statuses) > 1 {
		p.statuses = p.statuses[1:]
	}
	return t, nil
}

func (p *provider) OpenVideo(context.Context, upstream.Credential, string) (*http.Response, error) {
	return nil, upstream.Errorf(upstream.KindNetwork, "not in unit tests")
}

// Package video serves OpenAI's Videos API (POST /v1/videos, GET
// /v1/videos/{id}, GET /v1/videos/{id}/content) on the upstream's t2v tasks
// (docs/qwen-protocol.md §6.5). Jobs live in the store; a worker owned by
// the app submits them with one pool account and polls them with that same
// account, in the background, bounded in concurrency and in total time. On
// start the worker picks up the jobs a previous run left unfinished.
package video

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Defaults. The upstream's clients poll a task every 20 s up to 60 times
// (docs/qwen-protocol.md §6.5): about 20 minutes; we allow 30.
const (
	DefaultPollInterval   = 20 * time.Second
	DefaultMaxDuration    = 30 * time.Minute
	DefaultConcurrency    = 4
	DefaultMaxBytes       = 512 << 20
	DefaultContentTimeout = 10 * time.Minute
	maxPollErrors         = 15 // consecutive failed polls before a job fails
)

// Provider is what the service needs of the upstream client (*qwen.Client).
type Provider interface {
	SubmitVideo(ctx context.Context, cred upstream.Credential, model, prompt, ratio string) (string, error)
	VideoStatus(ctx context.Context, cred upstream.Credential, taskID string) (qwen.VideoTask, error)
	OpenVideo(ctx context.Context, cred upstream.Credential, rawURL string) (*http.Response, error)
}

// ModelLister returns the upstream's models (to choose and check the model
// of a new video).
type ModelLister func(ctx context.Context) ([]upstream.Model, error)

// Options configure the service; zero values take the defaults.
type Options struct {
	PollInterval   time.Duration // between two polls of a task
	MaxDuration    time.Duration // from creation to completed, else the job fails
	Concurrency    int           // jobs worked on at once
	MaxBytes       int64         // largest video /content relays
	ContentTimeout time.Duration // bound on one /content transfer
	Now            func() time.Time
}

func (o *Options) normalize() {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.ContentTimeout <= 0 {
		o.ContentTimeout = DefaultContentTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service is the video job service: HTTP handlers and the worker.
type Service struct {
	opts     Options
	store    store.VideoStore
	provider Provider
	picker   relay.Picker
	models   ModelLister
	log      *slog.Logger

	mu      sync.Mutex
	queue   []string      // job ids waiting for a worker slot
	wake    chan struct{} // signalled when queue grows
	running map[string]bool
}

// New builds the service. Run must be running for jobs to progress.
func New(opts Options, st store.VideoStore, p Provider, picker relay.Picker, models ModelLister, log *slog.Logger) *Service {
	opts.normalize()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, store: st, provider: p, picker: picker, models: models, log: log,
		wake: make(chan struct{}, 1), running: map[string]bool{}}
}

// enqueue hands a job id to the worker.
func (s *Service) enqueue(id string) {
	s.mu.Lock()
	s.queue = append(s.queue, id)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next pops a queued id that is not being worked on.
func (s *Service) next() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 {
		id := s.queue[0]
		s.queue = s.queue[1:]
		if !s.running[id] {
			s.running[id] = true
			return id, true
		}
	}
	return "", false
}

func (s *Service) finished(id string) {
	s.mu.Lock()
	delete(s.running, id)
	s.mu.Unlock()
}

// Run works on jobs until ctx ends: first the unfinished jobs of earlier
// runs, then new ones, at most Options.Concurrency at once. It returns
// once every job goroutine has stopped; jobs cut short stay unfinished in
// the store and are resumed by the next Run.
func (s *Service) Run(ctx context.Context) error {
	pending, err := s.store.UnfinishedVideos(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("videos: cannot list unfinished jobs", "err", err)
	}
	for _, j := range pending {
		s.enqueue(j.ID)
	}
	if len(pending) > 0 {
		s.log.Info("videos: resuming unfinished jobs", "count", len(pending))
	}
	slots := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case slots <- struct{}{}:
		}
		id, ok := s.next()
		for !ok {
			select {
			case <-ctx.Done():
				<-slots
				return nil
			case <-s.wake:
			}
			id, ok = s.next()
		}
		wg.Go(func() {
			defer func() { <-slots }()
			defer s.finished(id)
			s.work(ctx, id)
		})
	}
}

// copyLimited copies at most limit bytes and reports whether src had more.
func copyLimited(dst io.Writer, src io.Reader, limit int64) (int64, bool, error) {
	n, err := io.Copy(dst, io.LimitReader(src, limit))
	if err != nil {
		return n, false, err
	}
	var one [1]byte
	m, _ := src.Read(one[:])
	return n, m > 0, nil
}

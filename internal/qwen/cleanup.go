package qwen

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Defaults of the chat clean-up.
const (
	DefaultDeleteConcurrency = 4
	DefaultDeleteTimeout     = 30 * time.Second
	// maxDeleteQueue bounds the deletions waiting for a worker; beyond it
	// chats are left in place (and a warning logged) rather than memory
	// growing without limit while the upstream is down.
	maxDeleteQueue = 10000
)

// chatJob is one chat to delete, with the credential (token and HTTP
// client, so the account's own proxy) that created it.
type chatJob struct {
	cred upstream.Credential
	id   string
}

// janitor deletes upstream chats after their answer, off the request path
// (docs/qwen-protocol.md §3.1: every answer creates a chat, and chats left
// behind pile up in the account's history). At most max deletions run at
// once; each has its own timeout; failures are only logged. Workers are
// goroutines started on demand that drain the queue and exit, so an idle
// client runs none.
type janitor struct {
	c       *Client
	max     int
	timeout time.Duration
	log     *slog.Logger
	base    context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	running int
	queue   []chatJob
	idle    chan struct{} // closed when running drops to 0; nil when nobody waits
	closed  bool
}

func newJanitor(c *Client, max int, timeout time.Duration, log *slog.Logger) *janitor {
	base, cancel := context.WithCancel(context.Background())
	return &janitor{c: c, max: max, timeout: timeout, log: log, base: base, cancel: cancel}
}

// add schedules the deletion of a chat.
func (j *janitor) add(cred upstream.Credential, id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.closed:
		j.log.Debug("upstream chat not deleted: the client is closed", slog.String("chat", id), slog.String("account", cred.ID))
	case j.running < j.max:
		j.running++
		go j.work(chatJob{cred, id})
	case len(j.queue) < maxDeleteQueue:
		j.queue = append(j.queue, chatJob{cred, id})
	default:
		j.log.Warn("upstream chat not deleted: too many deletions pending", slog.String("chat", id), slog.String("account", cred.ID))
	}
}

// work deletes job, then queued chats until none is left.
func (j *janitor) work(job chatJob) {
	for {
		j.delete(job)
		j.mu.Lock()
		if len(j.queue) == 0 || j.base.Err() != nil {
			j.queue = nil
			j.running--
			if j.running == 0 && j.idle != nil {
				close(j.idle)
				j.idle = nil
			}
			j.mu.Unlock()
			return
		}
		job = j.queue[0]
		j.queue[0] = chatJob{}
		j.queue = j.queue[1:]
		j.mu.Unlock()
	}
}

// delete removes one chat; 404 counts as deleted (already gone).
func (j *janitor) delete(job chatJob) {
	ctx, cancel := context.WithTimeout(j.base, j.timeout)
	defer cancel()
	path := "/api/v2/chats/" + url.PathEscape(job.id)
	_, err := j.c.jsonCall(ctx, job.cred, http.MethodDelete, path, "/c/"+url.PathEscape(job.id), nil)
	if ue, ok := upstream.AsError(err); ok && ue.Status == http.StatusNotFound {
		err = nil
	}
	if err != nil {
		j.log.Warn("deleting an upstream chat failed; it stays in the account's history",
			slog.String("chat", job.id), slog.String("account", job.cred.ID),
			slog.String("error", redact(err, job.cred.Token).Error()))
		return
	}
	j.log.Debug("upstream chat deleted", slog.String("chat", job.id), slog.String("account", job.cred.ID))
}

// wait blocks until no deletion is pending or ctx ends.
func (j *janitor) wait(ctx context.Context) error {
	j.mu.Lock()
	if j.running == 0 {
		j.mu.Unlock()
		return nil
	}
	if j.idle == nil {
		j.idle = make(chan struct{})
	}
	idle := j.idle
	j.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close refuses new deletions, waits for the pending ones until ctx ends,
// then aborts what is left and waits for the workers to return.
func (j *janitor) close(ctx context.Context) error {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	err := j.wait(ctx)
	j.cancel()
	if err != nil {
		_ = j.wait(context.Background()) // aborted calls return promptly
	}
	return err
}

// Wait blocks until every scheduled chat deletion has finished, or ctx
// ends (then it returns ctx.Err()).
func (c *Client) Wait(ctx context.Context) error {
	if c.janitor == nil {
		return nil
	}
	return c.janitor.wait(ctx)
}

// Close drains the chat pool (its unused chats are deleted), stops
// scheduling chat deletions and waits for the pending ones until ctx ends;
// those still running then are aborted. Call it on shutdown after the last
// answer ended. Safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	if c.janitor == nil {
		return nil
	}
	var perr error
	if c.pool != nil {
		perr = c.pool.close(ctx) // only ever ctx.Err()
	}
	if err := c.janitor.close(ctx); err != nil {
		return err
	}
	return perr
}

// chatDone schedules the deletion of chat id, when deletion is on.
func (c *Client) chatDone(cred upstream.Credential, id string) {
	if c.janitor != nil && id != "" {
		c.janitor.add(cred, id)
	}
}

package video

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Error codes of failed jobs (the video object's error.code).
const (
	CodeTimeout     = "video_generation_timeout"
	CodeFailed      = "video_generation_failed"
	CodeRefused     = "upstream_refused"
	CodeUnavailable = "upstream_unavailable"
)

// accountLease is the pool's lease: it names its account.
type accountLease interface{ AccountID() int64 }

// work drives one job to a final state, or until ctx ends (shutdown: the
// job stays as it is in the store and is resumed by the next Run).
func (s *Service) work(ctx context.Context, id string) {
	j, err := s.store.GetVideo(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("videos: cannot load job", "video_id", id, "err", err)
		}
		return
	}
	if j.Finished() {
		return
	}
	deadline := j.CreatedAt.Add(s.opts.MaxDuration)
	if j.TaskID == "" {
		if !s.submit(ctx, j, deadline) {
			return
		}
	}
	s.poll(ctx, j, deadline)
}

// wait sleeps d, at most until deadline; it reports false when ctx ended.
func (s *Service) wait(ctx context.Context, d time.Duration, deadline time.Time) bool {
	if left := deadline.Sub(s.opts.Now()); left < d {
		d = max(left, 0)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// submit starts the upstream task with an account from the pool. A
// failure bound to the account (quota, captcha, token…) moves on to another
// account (the lease's release applies the outcome to the account); a soft
// failure waits a poll interval; a refusal of the request, or no account
// left, fails the job. It reports whether the job now has a task.
func (s *Service) submit(ctx context.Context, j *store.VideoJob, deadline time.Time) bool {
	var want relay.Want
	want.Model = j.Model
	var last error
	for {
		if !s.opts.Now().Before(deadline) {
			s.fail(ctx, j, CodeTimeout, "the upstream did not accept the video task in time")
			return false
		}
		lease, err := s.picker.Acquire(ctx, want)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			msg := "no upstream account can start a video now: " + err.Error()
			if ue, ok := upstream.AsError(last); ok {
				msg += " (last upstream error: " + ue.Message + ")"
			}
			s.fail(ctx, j, CodeUnavailable, msg)
			return false
		}
		cred := lease.Credential()
		task, err := s.provider.SubmitVideo(ctx, cred, j.Model, j.Prompt, ratioOf(j.Size))
		lease.Release(err)
		if err == nil {
			if al, ok := lease.(accountLease); ok {
				j.AccountID = al.AccountID()
			}
			j.TaskID, j.Status = task, store.VideoInProgress
			s.save(ctx, j)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		last = err
		ue, ok := upstream.AsError(err)
		if !ok || !ue.Kind.Retryable() {
			s.fail(ctx, j, CodeRefused, "the upstream refused the video request: "+safeMessage(err))
			return false
		}
		s.log.Warn("videos: submit failed, retrying", "video_id", j.ID, "kind", ue.Kind.String())
		if !ue.Kind.Policy().SameCredential {
			want.Exclude = append(want.Exclude, cred.ID)
			continue
		}
		want.Avoid = append(want.Avoid, cred.ID)
		if !s.wait(ctx, s.opts.PollInterval, deadline) {
			return false
		}
	}
}

// poll asks the task's status every PollInterval with the credential of
// the account that submitted it, until the task ends, the deadline passes
// or too many polls in a row failed.
func (s *Service) poll(ctx context.Context, j *store.VideoJob, deadline time.Time) {
	errs := 0
	for {
		if !s.wait(ctx, s.opts.PollInterval, deadline) {
			return
		}
		if !s.opts.Now().Before(deadline) {
			s.fail(ctx, j, CodeTimeout, fmt.Sprintf("the video was not ready within %s", s.opts.MaxDuration))
			return
		}
		t, err := s.pollOnce(ctx, j)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			errs++
			s.log.Warn("videos: poll failed", "video_id", j.ID, "err", safeMessage(err), "in_a_row", errs)
			if errs >= maxPollErrors {
				s.fail(ctx, j, CodeUnavailable, "the video task could not be polled: "+safeMessage(err))
				return
			}
			continue
		}
		errs = 0
		switch t.Status {
		case "success":
			j.Status, j.URL, j.Progress, j.DoneAt = store.VideoCompleted, t.URL, 100, s.opts.Now()
			s.save(ctx, j)
			return
		case "failed":
			msg := "the upstream failed to generate the video"
			if t.Message != "" {
				msg += ": " + t.Message
			}
			s.fail(ctx, j, CodeFailed, msg)
			return
		default:
			if t.Progress != j.Progress || j.Status != store.VideoInProgress {
				j.Status, j.Progress = store.VideoInProgress, t.Progress
				s.save(ctx, j)
			}
		}
	}
}

// pollTask is what pollOnce needs of one poll's answer.
type pollTask struct {
	Status, URL, Message string
	Progress             int
}

func (s *Service) pollOnce(ctx context.Context, j *store.VideoJob) (pollTask, error) {
	lease, err := s.picker.Acquire(ctx, relay.Want{Model: j.Model, Account: j.AccountID})
	if err != nil {
		return pollTask{}, err
	}
	t, err := s.provider.VideoStatus(ctx, lease.Credential(), j.TaskID)
	lease.Release(err)
	if err != nil {
		return pollTask{}, err
	}
	return pollTask{Status: t.Status, URL: t.URL, Message: t.Message, Progress: t.Progress}, nil
}

func (s *Service) fail(ctx context.Context, j *store.VideoJob, code, msg string) {
	j.Status, j.ErrCode, j.ErrMsg, j.DoneAt = store.VideoFailed, code, msg, s.opts.Now()
	s.save(ctx, j)
	s.log.Info("videos: job failed", "video_id", j.ID, "code", code)
}

// save writes j; a shutdown does not stop the write of a final state.
func (s *Service) save(ctx context.Context, j *store.VideoJob) {
	j.UpdatedAt = s.opts.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.PutVideo(wctx, j); err != nil {
		s.log.Error("videos: cannot save job", "video_id", j.ID, "err", err)
	}
}

// safeMessage is an error's client-safe text: an upstream error's Message
// (never a token), else the error itself (relay and context errors).
func safeMessage(err error) string {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		if ue.Message != "" {
			return ue.Message
		}
		return ue.Kind.String()
	}
	return err.Error()
}

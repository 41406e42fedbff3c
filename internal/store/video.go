package store

import (
	"context"
	"time"
)

// Video job states (OpenAI's Videos API statuses).
const (
	VideoQueued     = "queued"
	VideoInProgress = "in_progress"
	VideoCompleted  = "completed"
	VideoFailed     = "failed"
)

// VideoJob is one text-to-video job (issue #8): submitted upstream as a t2v
// task by one account and polled with that same account's credential
// (docs/qwen-protocol.md §6.5).
type VideoJob struct {
	ID        string // video_…
	Model     string // upstream model id
	Prompt    string
	Seconds   string // as the client asked (informational)
	Size      string // as the client asked (informational)
	Status    string // VideoQueued … VideoFailed
	Progress  int    // 0–100
	AccountID int64  // the account that submitted the task (0 = not yet)
	TaskID    string // the upstream task id ("" = not yet submitted)
	URL       string // the upstream mp4 URL once completed
	ErrCode   string
	ErrMsg    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// DoneAt is when the job reached completed or failed.
	DoneAt time.Time
}

// Finished reports whether the job reached a final state.
func (j *VideoJob) Finished() bool { return j.Status == VideoCompleted || j.Status == VideoFailed }

// VideoStore keeps video jobs.
type VideoStore interface {
	PutVideo(ctx context.Context, j *VideoJob) error            // insert or replace
	GetVideo(ctx context.Context, id string) (*VideoJob, error) // ErrNotFound when missing
	// UnfinishedVideos lists the jobs neither completed nor failed, oldest
	// first (resumed after a restart).
	UnfinishedVideos(ctx context.Context) ([]*VideoJob, error)
}

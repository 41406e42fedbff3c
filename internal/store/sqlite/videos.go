package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

var _ store.VideoStore = (*DB)(nil)

const videoColumns = `id, model, prompt, seconds, size, status, progress, account_id, task_id, url,
	err_code, err_msg, created_at, updated_at, done_at`

// PutVideo inserts j, or replaces the job with the same ID.
func (db *DB) PutVideo(ctx context.Context, j *store.VideoJob) error {
	if j.ID == "" {
		return errors.New("sqlite: put video: empty id")
	}
	_, err := db.w.ExecContext(ctx, `INSERT OR REPLACE INTO videos (`+videoColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Model, j.Prompt, j.Seconds, j.Size, j.Status, j.Progress, j.AccountID, j.TaskID, j.URL,
		j.ErrCode, j.ErrMsg, toMS(j.CreatedAt), toMS(j.UpdatedAt), toMS(j.DoneAt))
	if err != nil {
		return fmt.Errorf("sqlite: put video: %w", err)
	}
	return nil
}

func scanVideo(s scanner) (*store.VideoJob, error) {
	var (
		j                      store.VideoJob
		created, updated, done int64
	)
	err := s.Scan(&j.ID, &j.Model, &j.Prompt, &j.Seconds, &j.Size, &j.Status, &j.Progress, &j.AccountID,
		&j.TaskID, &j.URL, &j.ErrCode, &j.ErrMsg, &created, &updated, &done)
	if err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt, j.DoneAt = fromMS(created), fromMS(updated), fromMS(done)
	return &j, nil
}

// GetVideo returns the job with id, or store.ErrNotFound.
func (db *DB) GetVideo(ctx context.Context, id string) (*store.VideoJob, error) {
	j, err := scanVideo(db.r.QueryRowContext(ctx, `SELECT `+videoColumns+` FROM videos WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get video: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get video: %w", err)
	}
	return j, nil
}

// UnfinishedVideos lists the jobs not yet completed or failed, oldest first.
func (db *DB) UnfinishedVideos(ctx context.Context) ([]*store.VideoJob, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+videoColumns+` FROM videos
		WHERE status NOT IN (?, ?) ORDER BY created_at, id`, store.VideoCompleted, store.VideoFailed)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unfinished videos: %w", err)
	}
	defer rows.Close()
	var out []*store.VideoJob
	for rows.Next() {
		j, err := scanVideo(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: unfinished videos: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: unfinished videos: %w", err)
	}
	return out, nil
}

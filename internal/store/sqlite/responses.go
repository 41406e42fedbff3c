package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

var _ store.ResponseStore = (*DB)(nil)

// PutResponse inserts r, or replaces the record with the same ID.
func (db *DB) PutResponse(ctx context.Context, r *store.StoredResponse) error {
	if r.ID == "" {
		return errors.New("sqlite: put response: empty id")
	}
	conv, body := r.Conversation, r.Body
	if conv == nil {
		conv = []byte{}
	}
	if body == nil {
		body = []byte{}
	}
	_, err := db.w.ExecContext(ctx, `INSERT OR REPLACE INTO responses
		(id, created_at, expires_at, model, conversation, body) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, toMS(r.CreatedAt), toMS(r.ExpiresAt), r.Model, conv, body)
	if err != nil {
		return fmt.Errorf("sqlite: put response: %w", err)
	}
	return nil
}

// GetResponse returns the record with id; a missing or expired one yields
// store.ErrNotFound.
func (db *DB) GetResponse(ctx context.Context, id string) (*store.StoredResponse, error) {
	_, nowMS := db.nowMS()
	var (
		r                  store.StoredResponse
		created, expiresAt int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT id, created_at, expires_at, model, conversation, body
		FROM responses WHERE id = ? AND (expires_at = 0 OR expires_at > ?)`, id, nowMS).
		Scan(&r.ID, &created, &expiresAt, &r.Model, &r.Conversation, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get response: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get response: %w", err)
	}
	r.CreatedAt, r.ExpiresAt = fromMS(created), fromMS(expiresAt)
	return &r, nil
}

// DeleteResponse removes the record with id; a missing or expired one
// yields store.ErrNotFound (an expired one is removed all the same).
func (db *DB) DeleteResponse(ctx context.Context, id string) error {
	_, nowMS := db.nowMS()
	var live bool
	err := db.w.QueryRowContext(ctx, `DELETE FROM responses WHERE id = ?
		RETURNING expires_at = 0 OR expires_at > ?`, id, nowMS).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: delete response: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete response: %w", err)
	}
	if !live {
		return fmt.Errorf("sqlite: delete response: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteExpiredResponses removes, in batches, the records that expired at
// or before t.
func (db *DB) DeleteExpiredResponses(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		res, err := db.w.ExecContext(ctx, `DELETE FROM responses WHERE id IN
			(SELECT id FROM responses WHERE expires_at > 0 AND expires_at <= ? LIMIT ?)`,
			toMS(t), deleteBatch)
		if err != nil {
			return total, fmt.Errorf("sqlite: delete expired responses: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: delete expired responses: %w", err)
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}

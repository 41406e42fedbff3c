package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

const keyColumns = `id, name, hash, prefix, created_at, expires_at, revoked_at,
	allowed_models, rpm, max_concurrent, daily_token_quota`

// CreateKey inserts k, setting its ID and CreatedAt. Only k.Hash is stored,
// never a plain key; a hash already present yields store.ErrConflict.
func (db *DB) CreateKey(ctx context.Context, k *store.Key) error {
	if len(k.Hash) == 0 {
		return errors.New("sqlite: create key: empty hash")
	}
	models, err := encodeList(k.AllowedModels)
	if err != nil {
		return fmt.Errorf("sqlite: create key: allowed models: %w", err)
	}
	now, nowMS := db.nowMS()
	res, err := db.w.ExecContext(ctx, `INSERT INTO api_keys (
		name, hash, prefix, created_at, expires_at, revoked_at,
		allowed_models, rpm, max_concurrent, daily_token_quota
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.Name, k.Hash, k.Prefix, nowMS, toMS(k.ExpiresAt), toMS(k.RevokedAt),
		models, k.RPM, k.MaxConcurrent, k.DailyTokenQuota)
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("sqlite: create key: %w", store.ErrConflict)
		}
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	k.ID, k.CreatedAt = id, now
	return nil
}

// UpdateKey writes k's name, expiry, revocation, limits and allowed models;
// its hash, prefix and creation time never change. A missing key yields
// store.ErrNotFound.
func (db *DB) UpdateKey(ctx context.Context, k *store.Key) error {
	models, err := encodeList(k.AllowedModels)
	if err != nil {
		return fmt.Errorf("sqlite: update key %d: allowed models: %w", k.ID, err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE api_keys SET
		name = ?, expires_at = ?, revoked_at = ?, allowed_models = ?,
		rpm = ?, max_concurrent = ?, daily_token_quota = ?
		WHERE id = ?`,
		k.Name, toMS(k.ExpiresAt), toMS(k.RevokedAt), models,
		k.RPM, k.MaxConcurrent, k.DailyTokenQuota, k.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update key %d: %w", k.ID, err)
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("sqlite: update key %d: %w", k.ID, err)
	}
	return nil
}

// GetKey returns the key with id, or store.ErrNotFound.
func (db *DB) GetKey(ctx context.Context, id int64) (*store.Key, error) {
	k, err := scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get key %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key %d: %w", id, err)
	}
	return k, nil
}

// GetKeyByHash returns the key whose hash is hash, or store.ErrNotFound.
// Expired and revoked keys are returned too; the caller decides.
func (db *DB) GetKeyByHash(ctx context.Context, hash []byte) (*store.Key, error) {
	k, err := scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get key by hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key by hash: %w", err)
	}
	return k, nil
}

// ListKeys returns every key ordered by ID, revoked ones included.
func (db *DB) ListKeys(ctx context.Context) ([]*store.Key, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	var out []*store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return out, nil
}

func scanKey(sc scanner) (*store.Key, error) {
	var (
		k                         store.Key
		created, expires, revoked int64
		models                    string
	)
	err := sc.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &created, &expires, &revoked,
		&models, &k.RPM, &k.MaxConcurrent, &k.DailyTokenQuota)
	if err != nil {
		return nil, err
	}
	if k.AllowedModels, err = decodeList(models); err != nil {
		return nil, fmt.Errorf("key %d: allowed models: %w", k.ID, err)
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return &k, nil
}

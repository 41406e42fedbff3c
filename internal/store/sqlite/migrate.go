package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from version i to version i+1; the schema
// version lives in PRAGMA user_version. Append only: never edit a step that
// has shipped, and give migrate_test.go a seed for the version it leaves.
var migrations = []string{
	// v1: initial schema.
	`CREATE TABLE accounts (
		id             INTEGER PRIMARY KEY AUTOINCREMENT,
		name           TEXT    NOT NULL UNIQUE,
		email          TEXT    NOT NULL DEFAULT '',
		password       TEXT    NOT NULL DEFAULT '', -- sealed
		token          TEXT    NOT NULL DEFAULT '', -- sealed
		token_expiry   INTEGER NOT NULL DEFAULT 0,
		proxy          TEXT    NOT NULL DEFAULT '', -- sealed
		state          TEXT    NOT NULL DEFAULT 'active',
		state_reason   TEXT    NOT NULL DEFAULT '',
		state_since    INTEGER NOT NULL DEFAULT 0,
		cool_until     INTEGER NOT NULL DEFAULT 0,
		punish_url     TEXT    NOT NULL DEFAULT '',
		max_concurrent INTEGER NOT NULL DEFAULT 0,
		min_interval   INTEGER NOT NULL DEFAULT 0, -- nanoseconds
		created_at     INTEGER NOT NULL DEFAULT 0,
		updated_at     INTEGER NOT NULL DEFAULT 0,
		last_used_at   INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE api_keys (
		id                INTEGER PRIMARY KEY AUTOINCREMENT,
		name              TEXT    NOT NULL DEFAULT '',
		hash              BLOB    NOT NULL UNIQUE,
		prefix            TEXT    NOT NULL DEFAULT '',
		created_at        INTEGER NOT NULL DEFAULT 0,
		expires_at        INTEGER NOT NULL DEFAULT 0,
		revoked_at        INTEGER NOT NULL DEFAULT 0,
		allowed_models    TEXT    NOT NULL DEFAULT '[]',
		rpm               INTEGER NOT NULL DEFAULT 0,
		max_concurrent    INTEGER NOT NULL DEFAULT 0,
		daily_token_quota INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE usage (
		id                INTEGER PRIMARY KEY,
		time              INTEGER NOT NULL,
		request_id        TEXT    NOT NULL DEFAULT '',
		key_id            INTEGER NOT NULL DEFAULT 0,
		account_id        INTEGER NOT NULL DEFAULT 0,
		model             TEXT    NOT NULL DEFAULT '',
		stream            INTEGER NOT NULL DEFAULT 0,
		prompt_tokens     INTEGER NOT NULL DEFAULT 0,
		completion_tokens INTEGER NOT NULL DEFAULT 0,
		reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
		ttft_us           INTEGER NOT NULL DEFAULT 0,
		duration_us       INTEGER NOT NULL DEFAULT 0,
		status            INTEGER NOT NULL DEFAULT 0,
		error_kind        TEXT    NOT NULL DEFAULT ''
	);
	CREATE INDEX usage_time ON usage(time);`,

	// v2: the models an account can use; per-key and per-account usage
	// lookups (quota sums, filtered listings) by time.
	`ALTER TABLE accounts ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
	CREATE INDEX usage_key_time ON usage(key_id, time);
	CREATE INDEX usage_account_time ON usage(account_id, time);`,

	// v3: a write counter per account, for compare-and-swap updates, so the
	// relay's state saves never overwrite an operator's change (issue #6).
	`ALTER TABLE accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;`,

	// v4: stored answers of the OpenAI Responses API (previous_response_id,
	// GET /v1/responses/{id}), each with its expiry (issue #7).
	`CREATE TABLE responses (
		id           TEXT    PRIMARY KEY,
		created_at   INTEGER NOT NULL DEFAULT 0,
		expires_at   INTEGER NOT NULL DEFAULT 0, -- 0 = never
		model        TEXT    NOT NULL DEFAULT '',
		conversation BLOB    NOT NULL,
		body         BLOB    NOT NULL
	);
	CREATE INDEX responses_expires ON responses(expires_at) WHERE expires_at > 0;`,

	// v5: text-to-video jobs (OpenAI Videos API, issue #8): the account that
	// submitted the upstream task polls it (docs/qwen-protocol.md §6.5).
	`CREATE TABLE videos (
		id         TEXT    PRIMARY KEY,
		model      TEXT    NOT NULL DEFAULT '',
		prompt     TEXT    NOT NULL DEFAULT '',
		seconds    TEXT    NOT NULL DEFAULT '',
		size       TEXT    NOT NULL DEFAULT '',
		status     TEXT    NOT NULL DEFAULT 'queued',
		progress   INTEGER NOT NULL DEFAULT 0,
		account_id INTEGER NOT NULL DEFAULT 0,
		task_id    TEXT    NOT NULL DEFAULT '',
		url        TEXT    NOT NULL DEFAULT '',
		err_code   TEXT    NOT NULL DEFAULT '',
		err_msg    TEXT    NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL DEFAULT 0,
		updated_at INTEGER NOT NULL DEFAULT 0,
		done_at    INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX videos_unfinished ON videos(created_at) WHERE status NOT IN ('completed', 'failed');`,
}

// schemaVersion reads PRAGMA user_version.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// migrate brings the database to version target, one transaction per step.
// A database newer than this binary is refused rather than touched.
func migrate(ctx context.Context, db *sql.DB, target int) error {
	cur, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: read version: %w", err)
	}
	if cur > len(migrations) {
		return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this binary supports (%d); upgrade qwenrelay",
			cur, len(migrations))
	}
	for v := cur; v < target; v++ {
		if err := migrateStep(ctx, db, v); err != nil {
			return err
		}
	}
	return nil
}

func migrateStep(ctx context.Context, db *sql.DB, from int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate to v%d: %w", from+1, err)
	}
	defer tx.Rollback()
	// Re-check inside the (IMMEDIATE) transaction: another process may have
	// migrated between our read and our lock.
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate to v%d: %w", from+1, err)
	}
	if cur != from {
		return nil
	}
	if _, err := tx.ExecContext(ctx, migrations[from]); err != nil {
		return fmt.Errorf("sqlite: migrate to v%d: %w", from+1, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", from+1)); err != nil {
		return fmt.Errorf("sqlite: migrate to v%d: set version: %w", from+1, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate to v%d: %w", from+1, err)
	}
	return nil
}

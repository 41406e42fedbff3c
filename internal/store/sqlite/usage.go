package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Query limits for QueryUsage.
const (
	DefaultUsageLimit = 1000
	MaxUsageLimit     = 10000
)

// deleteBatch bounds how many rows one retention transaction deletes, so the
// write lock is released between batches.
const deleteBatch = 5000

const usageColumns = `id, time, request_id, key_id, account_id, model, stream,
	prompt_tokens, completion_tokens, reasoning_tokens, ttft_us, duration_us, status, error_kind`

// InsertUsage inserts rows in one transaction and sets each row's ID.
func (db *DB) InsertUsage(ctx context.Context, rows []store.UsageRecord) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: insert usage: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage (
		time, request_id, key_id, account_id, model, stream,
		prompt_tokens, completion_tokens, reasoning_tokens, ttft_us, duration_us, status, error_kind
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: insert usage: %w", err)
	}
	defer stmt.Close()
	for i := range rows {
		r := &rows[i]
		res, err := stmt.ExecContext(ctx, toMS(r.Time), r.RequestID, r.KeyID, r.AccountID, r.Model, r.Stream,
			r.PromptTokens, r.CompletionTokens, r.ReasoningTokens,
			r.TTFT.Microseconds(), r.Duration.Microseconds(), r.Status, r.ErrorKind)
		if err != nil {
			return fmt.Errorf("sqlite: insert usage: row %d: %w", i, err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: insert usage: row %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: insert usage: %w", err)
	}
	return nil
}

// usageWhere renders f's non-zero fields as a WHERE clause and its args.
func usageWhere(f store.UsageFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.KeyID != 0 {
		add("key_id = ?", f.KeyID)
	}
	if f.AccountID != 0 {
		add("account_id = ?", f.AccountID)
	}
	if f.Model != "" {
		add("model = ?", f.Model)
	}
	if !f.From.IsZero() {
		add("time >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("time < ?", f.To.UnixMilli())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// QueryUsage returns the rows matching f, newest first, at most f.Limit
// (DefaultUsageLimit when 0, capped at MaxUsageLimit).
func (db *DB) QueryUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageRecord, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultUsageLimit
	}
	limit = min(limit, MaxUsageLimit)
	where, args := usageWhere(f)
	rows, err := db.r.QueryContext(ctx,
		`SELECT `+usageColumns+` FROM usage`+where+` ORDER BY time DESC, id DESC LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query usage: %w", err)
	}
	defer rows.Close()
	out := make([]store.UsageRecord, 0, min(limit, 256))
	for rows.Next() {
		var (
			r             store.UsageRecord
			t, ttft, took int64
		)
		if err := rows.Scan(&r.ID, &t, &r.RequestID, &r.KeyID, &r.AccountID, &r.Model, &r.Stream,
			&r.PromptTokens, &r.CompletionTokens, &r.ReasoningTokens, &ttft, &took, &r.Status, &r.ErrorKind); err != nil {
			return nil, fmt.Errorf("sqlite: query usage: %w", err)
		}
		r.Time = fromMS(t)
		r.TTFT, r.Duration = time.Duration(ttft)*time.Microsecond, time.Duration(took)*time.Microsecond
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query usage: %w", err)
	}
	return out, nil
}

// DailyTotals sums the rows matching f per UTC day, oldest day first.
// f.Limit is ignored. Errors counts rows with a non-empty ErrorKind.
func (db *DB) DailyTotals(ctx context.Context, f store.UsageFilter) ([]store.DailyTotal, error) {
	where, args := usageWhere(f)
	rows, err := db.r.QueryContext(ctx, `SELECT
		strftime('%Y-%m-%d', time / 1000, 'unixepoch') AS day,
		COUNT(*),
		COUNT(*) FILTER (WHERE error_kind <> ''),
		COALESCE(SUM(prompt_tokens), 0),
		COALESCE(SUM(completion_tokens), 0),
		COALESCE(SUM(reasoning_tokens), 0)
		FROM usage`+where+` GROUP BY day ORDER BY day`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: daily totals: %w", err)
	}
	defer rows.Close()
	var out []store.DailyTotal
	for rows.Next() {
		var d store.DailyTotal
		if err := rows.Scan(&d.Day, &d.Requests, &d.Errors, &d.PromptTokens, &d.CompletionTokens, &d.ReasoningTokens); err != nil {
			return nil, fmt.Errorf("sqlite: daily totals: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: daily totals: %w", err)
	}
	return out, nil
}

// KeyTokensSince sums prompt and completion tokens of keyID's rows at or
// after since (the daily quota check).
func (db *DB) KeyTokensSince(ctx context.Context, keyID int64, since time.Time) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx,
		`SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage WHERE key_id = ? AND time >= ?`,
		keyID, toMS(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: key tokens since: %w", err)
	}
	return n, nil
}

// DeleteUsageBefore deletes rows older than t and returns how many went.
// It works in batches so writers are never blocked for long.
func (db *DB) DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		res, err := db.w.ExecContext(ctx,
			`DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE time < ? LIMIT ?)`,
			toMS(t), deleteBatch)
		if err != nil {
			return total, fmt.Errorf("sqlite: delete usage: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: delete usage: %w", err)
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

const accountColumns = `id, name, email, password, token, token_expiry, proxy,
	state, state_reason, state_since, cool_until, punish_url,
	max_concurrent, min_interval, models, created_at, updated_at, last_used_at, version`

// sealedAccount holds an account's secrets as they are stored.
type sealedAccount struct {
	password, token, proxy string
	models                 string
}

// seal encrypts the account's secrets and encodes its models.
func (db *DB) seal(a *store.Account) (sealedAccount, error) {
	var s sealedAccount
	var err error
	if s.password, err = db.box.Seal(a.Password); err != nil {
		return s, fmt.Errorf("password: %w", err)
	}
	if s.token, err = db.box.Seal(a.Token); err != nil {
		return s, fmt.Errorf("token: %w", err)
	}
	if s.proxy, err = db.box.Seal(a.Proxy); err != nil {
		return s, fmt.Errorf("proxy: %w", err)
	}
	if s.models, err = encodeList(a.Models); err != nil {
		return s, fmt.Errorf("models: %w", err)
	}
	return s, nil
}

// CreateAccount inserts a, setting its ID, Version (1), CreatedAt and
// UpdatedAt (and State to active when empty). A taken name yields
// store.ErrConflict.
func (db *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	if a.Name == "" {
		return errors.New("sqlite: create account: empty name")
	}
	s, err := db.seal(a)
	if err != nil {
		return fmt.Errorf("sqlite: create account: %w", err)
	}
	state := a.State
	if state == "" {
		state = store.StateActive
	}
	now, nowMS := db.nowMS()
	res, err := db.w.ExecContext(ctx, `INSERT INTO accounts (
		name, email, password, token, token_expiry, proxy,
		state, state_reason, state_since, cool_until, punish_url,
		max_concurrent, min_interval, models, created_at, updated_at, last_used_at, version
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		a.Name, a.Email, s.password, s.token, toMS(a.TokenExpiry), s.proxy,
		string(state), a.StateReason, toMS(a.StateSince), toMS(a.CoolUntil), a.PunishURL,
		a.MaxConcurrent, int64(a.MinInterval), s.models, nowMS, nowMS, toMS(a.LastUsedAt))
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("sqlite: create account %q: %w", a.Name, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: create account: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: create account: %w", err)
	}
	a.ID, a.State, a.CreatedAt, a.UpdatedAt, a.Version = id, state, now, now, 1
	return nil
}

// UpdateAccount writes every field of a except CreatedAt if the stored
// record is still at a.Version (compare-and-swap), then sets UpdatedAt and
// increments a.Version. A missing account yields store.ErrNotFound (it is
// never recreated), a stale a.Version store.ErrVersionConflict, a name
// taken by another account store.ErrConflict.
func (db *DB) UpdateAccount(ctx context.Context, a *store.Account) error {
	if a.Name == "" {
		return errors.New("sqlite: update account: empty name")
	}
	s, err := db.seal(a)
	if err != nil {
		return fmt.Errorf("sqlite: update account: %w", err)
	}
	now, nowMS := db.nowMS()
	res, err := db.w.ExecContext(ctx, `UPDATE accounts SET
		name = ?, email = ?, password = ?, token = ?, token_expiry = ?, proxy = ?,
		state = ?, state_reason = ?, state_since = ?, cool_until = ?, punish_url = ?,
		max_concurrent = ?, min_interval = ?, models = ?, updated_at = ?, last_used_at = ?,
		version = version + 1
		WHERE id = ? AND version = ?`,
		a.Name, a.Email, s.password, s.token, toMS(a.TokenExpiry), s.proxy,
		string(a.State), a.StateReason, toMS(a.StateSince), toMS(a.CoolUntil), a.PunishURL,
		a.MaxConcurrent, int64(a.MinInterval), s.models, nowMS, toMS(a.LastUsedAt),
		a.ID, a.Version)
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("sqlite: update account %d: name %q: %w", a.ID, a.Name, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: update account %d: %w", a.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: update account %d: %w", a.ID, err)
	}
	if n == 0 {
		// Not written: tell a deleted account from a stale version. (A
		// write landing in between can only turn one true answer into
		// the other.)
		var v int64
		err := db.w.QueryRowContext(ctx, `SELECT version FROM accounts WHERE id = ?`, a.ID).Scan(&v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlite: update account %d: %w", a.ID, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlite: update account %d: %w", a.ID, err)
		}
		return fmt.Errorf("sqlite: update account %d: at version %d, stored %d: %w", a.ID, a.Version, v, store.ErrVersionConflict)
	}
	a.UpdatedAt = now
	a.Version++
	return nil
}

// GetAccount returns the account with id, or store.ErrNotFound.
func (db *DB) GetAccount(ctx context.Context, id int64) (*store.Account, error) {
	row := db.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
	a, err := db.scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get account %d: %w", id, err)
	}
	return a, nil
}

// ListAccounts returns every account ordered by ID.
func (db *DB) ListAccounts(ctx context.Context) ([]*store.Account, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	defer rows.Close()
	var out []*store.Account
	for rows.Next() {
		a, err := db.scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	return out, nil
}

// DeleteAccount removes the account with id, or returns store.ErrNotFound.
// Its usage rows are kept.
func (db *DB) DeleteAccount(ctx context.Context, id int64) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete account %d: %w", id, err)
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("sqlite: delete account %d: %w", id, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// scanAccount reads one row of accountColumns and opens its secrets.
func (db *DB) scanAccount(sc scanner) (*store.Account, error) {
	var (
		a                                             store.Account
		s                                             sealedAccount
		state                                         string
		tokenExp, since, cool, created, updated, used int64
		minInterval                                   int64
	)
	err := sc.Scan(&a.ID, &a.Name, &a.Email, &s.password, &s.token, &tokenExp, &s.proxy,
		&state, &a.StateReason, &since, &cool, &a.PunishURL,
		&a.MaxConcurrent, &minInterval, &s.models, &created, &updated, &used, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.Password, err = db.box.Open(s.password); err != nil {
		return nil, fmt.Errorf("account %d: password: %w", a.ID, err)
	}
	if a.Token, err = db.box.Open(s.token); err != nil {
		return nil, fmt.Errorf("account %d: token: %w", a.ID, err)
	}
	if a.Proxy, err = db.box.Open(s.proxy); err != nil {
		return nil, fmt.Errorf("account %d: proxy: %w", a.ID, err)
	}
	if a.Models, err = decodeList(s.models); err != nil {
		return nil, fmt.Errorf("account %d: models: %w", a.ID, err)
	}
	a.State = store.AccountState(state)
	a.MinInterval = time.Duration(minInterval)
	a.TokenExpiry, a.StateSince, a.CoolUntil = fromMS(tokenExp), fromMS(since), fromMS(cool)
	a.CreatedAt, a.UpdatedAt, a.LastUsedAt = fromMS(created), fromMS(updated), fromMS(used)
	return &a, nil
}

// mustAffect turns "no row changed" into store.ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// encodeList stores a string list as JSON; nil and empty become "[]".
func encodeList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// decodeList reverses encodeList; an empty list reads back as nil.
func decodeList(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// Package sqlite is qwenrelay's embedded default store: one SQLite file in
// WAL mode, through the pure-Go modernc.org/sqlite driver (no cgo).
//
// Writes go through a pool of exactly one connection that begins its
// transactions IMMEDIATE, so writers from many goroutines queue inside
// database/sql instead of failing with SQLITE_BUSY; reads use a separate
// read-only pool and, thanks to WAL, never wait for writers. busy_timeout
// covers other processes sharing the file.
//
// Account secrets (token, password, proxy) are sealed with a secrets.Box
// before they are written and opened when read; client keys exist only as
// hashes. Times are stored as unix milliseconds (0 = the zero time).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

var _ store.Store = (*DB)(nil)

// busyTimeoutMS is how long a connection waits for a lock held by another
// process before failing.
const busyTimeoutMS = 5000

// DB is a store.Store backed by one SQLite file. It is safe for concurrent
// use.
type DB struct {
	w   *sql.DB // the single writer connection
	r   *sql.DB // read-only connections
	box *secrets.Box
	now func() time.Time
}

// Open opens (creating if needed) the database at path, migrates it to the
// latest schema, and returns it. box seals and opens account secrets.
func Open(ctx context.Context, path string, box *secrets.Box) (*DB, error) {
	if box == nil {
		return nil, errors.New("sqlite: open: nil secrets box")
	}
	w, err := openPool(ctx, path, false, 1)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w, len(migrations)); err != nil {
		w.Close()
		return nil, err
	}
	r, err := openPool(ctx, path, true, min(max(runtime.GOMAXPROCS(0), 2), 8))
	if err != nil {
		w.Close()
		return nil, err
	}
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return &DB{w: w, r: r, box: box, now: time.Now}, nil
}

// Close closes both pools; the last connection to go checkpoints the WAL.
func (db *DB) Close() error {
	rerr := db.r.Close()
	werr := db.w.Close()
	if err := errors.Join(rerr, werr); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// openPool opens a database/sql pool on path with qwenrelay's pragmas.
func openPool(ctx context.Context, path string, readOnly bool, conns int) (*sql.DB, error) {
	dsn, err := dataSourceName(path, readOnly)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if !readOnly {
		// Connect now so the journal mode is WAL before any reader opens.
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
	}
	return db, nil
}

// dataSourceName builds a file: URI; the path is escaped so '?' and '#' in
// directory names cannot be mistaken for URI syntax.
func dataSourceName(path string, readOnly bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlite: open: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if u.Path[0] != '/' { // Windows drive letters: file:///C:/...
		u.Path = "/" + u.Path
	}
	return u.String(), nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// toMS converts a time to unix milliseconds, the zero time to 0.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS reverses toMS, in UTC.
func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// nowMS returns the current time at the store's precision.
func (db *DB) nowMS() (time.Time, int64) {
	ms := db.now().UnixMilli()
	return fromMS(ms), ms
}

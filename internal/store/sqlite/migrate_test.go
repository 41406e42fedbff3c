package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// versionSeed fills a database at one schema version with sample rows using
// that version's SQL, and returns a check that the rows survived migration
// to the latest version.
type versionSeed func(t *testing.T, raw *sql.DB, db *DB) func(t *testing.T, db *DB)

// seeds[k] seeds a database at version k. Every migration must leave a
// version that has a seed: add one when appending to migrations.
var seeds = []versionSeed{
	0: func(t *testing.T, raw *sql.DB, db *DB) func(*testing.T, *DB) {
		return func(t *testing.T, db *DB) {
			if l, err := db.ListAccounts(context.Background()); err != nil || len(l) != 0 {
				t.Fatalf("fresh database: %v, %v", l, err)
			}
		}
	},
	1: seedV1,
	2: seedV2,
	3: seedV3,
	4: seedV4,
}

// seedV1 writes with the v1 schema: accounts have no models column.
func seedV1(t *testing.T, raw *sql.DB, db *DB) func(*testing.T, *DB) {
	ctx := context.Background()
	token, err := db.box.Seal("v1-token-secret")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, `INSERT INTO accounts (name, email, token, token_expiry, state, min_interval, created_at, updated_at)
		VALUES ('old', 'old@example.com', ?, 1900000000000, 'cooling', 2000000000, 1800000000000, 1800000000001)`, token)
	mustExec(t, raw, `INSERT INTO api_keys (name, hash, prefix, created_at, allowed_models, rpm)
		VALUES ('legacy', ?, 'sk-qr-leg', 1800000000000, '["qwen3-max"]', 30)`, secrets.HashKey("sk-qr-legacy"))
	for i := range 5 {
		mustExec(t, raw, `INSERT INTO usage (time, request_id, key_id, account_id, model, prompt_tokens, completion_tokens, ttft_us, status, error_kind)
			VALUES (?, ?, 1, 1, 'qwen3-max', 10, 5, 1000, 200, ?)`,
			int64(1800000000000+i), "r"+string(rune('a'+i)), map[bool]string{true: "timeout"}[i == 4])
	}
	return func(t *testing.T, db *DB) {
		a, err := db.GetAccount(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "old" || a.Token != "v1-token-secret" || a.State != store.StateCooling || a.Models != nil ||
			a.MinInterval != 2*time.Second || a.TokenExpiry.UnixMilli() != 1900000000000 || a.UpdatedAt.UnixMilli() != 1800000000001 {
			t.Fatalf("account after migration: %+v", a)
		}
		k, err := db.GetKeyByHash(ctx, secrets.HashKey("sk-qr-legacy"))
		if err != nil || k.Name != "legacy" || k.RPM != 30 || len(k.AllowedModels) != 1 {
			t.Fatalf("key after migration: %+v, %v", k, err)
		}
		u, err := db.QueryUsage(ctx, store.UsageFilter{KeyID: 1, AccountID: 1})
		if err != nil || len(u) != 5 || u[0].ErrorKind != "timeout" || u[0].TTFT != time.Millisecond {
			t.Fatalf("usage after migration: %+v, %v", u, err)
		}
		// The new column works on old rows.
		a.Models = []string{"qwen-plus"}
		if err := db.UpdateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
}

// seedV2 writes with the v2 schema: accounts have models but no version.
func seedV2(t *testing.T, raw *sql.DB, db *DB) func(*testing.T, *DB) {
	ctx := context.Background()
	token, err := db.box.Seal("v2-token-secret")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, `INSERT INTO accounts (name, token, state, state_reason, models, created_at, updated_at)
		VALUES ('v2', ?, 'disabled', 'disabled by the admin', '["qwen3-max"]', 1800000000000, 1800000000001)`, token)
	return func(t *testing.T, db *DB) {
		a, err := db.GetAccount(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "v2" || a.Token != "v2-token-secret" || a.State != store.StateDisabled || a.Version != 1 ||
			len(a.Models) != 1 || a.UpdatedAt.UnixMilli() != 1800000000001 {
			t.Fatalf("account after migration: %+v", a)
		}
		// Old rows start at version 1 and take part in compare-and-swap.
		stale := *a
		a.StateReason = "still disabled"
		if err := db.UpdateAccount(ctx, a); err != nil || a.Version != 2 {
			t.Fatalf("update: %v, version %d", err, a.Version)
		}
		if err := db.UpdateAccount(ctx, &stale); !errors.Is(err, store.ErrVersionConflict) {
			t.Fatalf("stale update: %v", err)
		}
	}
}

// seedV3 writes with the v3 schema: no responses table yet; the accounts
// survive and the new table starts empty and usable.
func seedV3(t *testing.T, raw *sql.DB, db *DB) func(*testing.T, *DB) {
	ctx := context.Background()
	mustExec(t, raw, `INSERT INTO accounts (name, state, version, created_at, updated_at)
		VALUES ('v3', 'active', 7, 1800000000000, 1800000000001)`)
	return func(t *testing.T, db *DB) {
		a, err := db.GetAccount(ctx, 1)
		if err != nil || a.Name != "v3" || a.Version != 7 {
			t.Fatalf("account after migration: %+v, %v", a, err)
		}
		if _, err := db.GetResponse(ctx, "resp_x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("responses table after migration: %v", err)
		}
		r := &store.StoredResponse{ID: "resp_x", CreatedAt: time.UnixMilli(1800000000000), Body: []byte("{}")}
		if err := db.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got, err := db.GetResponse(ctx, "resp_x"); err != nil || string(got.Body) != "{}" {
			t.Fatalf("get after migration: %+v, %v", got, err)
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("exec %.40q: %v", q, err)
	}
}

func TestEverySchemaVersionHasASeed(t *testing.T) {
	if len(seeds) != len(migrations) {
		t.Fatalf("%d migrations but seeds for %d versions: add a seed for v%d", len(migrations), len(seeds), len(migrations)-1)
	}
}

// TestMigrateFromEveryVersion builds a database at each earlier version,
// fills it, opens it (migrating to the latest) and checks the data.
func TestMigrateFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	for k := range len(seeds) {
		t.Run(fmt.Sprintf("from v%d", k), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			raw, err := openPool(ctx, path, false, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, raw, k); err != nil {
				t.Fatal(err)
			}
			if v, _ := schemaVersion(ctx, raw); v != k {
				t.Fatalf("built version %d, want %d", v, k)
			}
			check := seeds[k](t, raw, &DB{box: testBox(t)})
			raw.Close()

			db, err := Open(ctx, path, testBox(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if v, _ := schemaVersion(ctx, db.r); v != len(migrations) {
				t.Fatalf("version after open = %d, want %d", v, len(migrations))
			}
			check(t, db)
			assertIndexes(t, db, "usage_time", "usage_key_time", "usage_account_time", "responses_expires", "videos_unfinished")
		})
	}
}

func assertIndexes(t *testing.T, db *DB, names ...string) {
	t.Helper()
	for _, n := range names {
		var got string
		err := db.r.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?`, n).Scan(&got)
		if err != nil {
			t.Errorf("index %s: %v", n, err)
		}
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if err := db.CreateAccount(ctx, sampleAccount("a")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 {
		db, err := Open(ctx, path, testBox(t))
		if err != nil {
			t.Fatal(err)
		}
		if l, err := db.ListAccounts(ctx); err != nil || len(l) != 1 {
			t.Fatalf("reopen: %d accounts, %v", len(l), err)
		}
		db.Close()
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	raw, err := openPool(ctx, path, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "PRAGMA user_version = 99")
	raw.Close()
	_, err = Open(ctx, path, testBox(t))
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("err = %v, want a newer-schema error", err)
	}
}

func TestOpenSetsPragmas(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	for _, p := range []struct {
		pool *sql.DB
		name string
		want string
	}{
		{db.w, "journal_mode", "wal"},
		{db.r, "journal_mode", "wal"},
		{db.w, "foreign_keys", "1"},
		{db.w, "busy_timeout", "5000"},
		{db.r, "busy_timeout", "5000"},
		{db.w, "synchronous", "1"},
		{db.r, "query_only", "1"},
	} {
		var got string
		if err := p.pool.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("%s = %s, want %s", p.name, got, p.want)
		}
	}
}

func TestOpenPathWithURISyntax(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "we?ird#dir %20&x=1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "q.db")
	db, err := Open(context.Background(), path, testBox(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateAccount(context.Background(), sampleAccount("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

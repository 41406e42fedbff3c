package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
)

func testBox(t testing.TB) *secrets.Box {
	t.Helper()
	b, err := secrets.NewBox(bytes.Repeat([]byte{7}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openTest opens a fresh database in a temporary directory, closed at the
// end of the test; it returns the database and its path.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qwenrelay.db")
	db, err := Open(context.Background(), path, testBox(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// TestSecretsEncryptedAtRest reads the raw columns and the database files
// and asserts no account secret or plain client key is there in the clear.
func TestSecretsEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	a := sampleAccount("alice")
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	const plainKey = "sk-qr-PLAINCLIENTKEY0123456789"
	if err := db.CreateKey(ctx, &store.Key{Name: "k", Hash: secrets.HashKey(plainKey), Prefix: plainKey[:10]}); err != nil {
		t.Fatal(err)
	}
	plains := map[string]string{"token": a.Token, "password": a.Password, "proxy": a.Proxy}

	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for col, plain := range plains {
		var v string
		if err := raw.QueryRowContext(ctx, "SELECT "+col+" FROM accounts WHERE id = ?", a.ID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "v1:") || strings.Contains(v, plain) {
			t.Errorf("column %s is not sealed: %.20q", col, v)
		}
	}
	raw.Close()

	checkFiles := func(stage string) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(path + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, plain := range plains {
				if bytes.Contains(b, []byte(plain)) {
					t.Errorf("%s: %s appears in clear in %s", stage, name, path+suffix)
				}
			}
			if bytes.Contains(b, []byte(plainKey)) {
				t.Errorf("%s: plain client key appears in %s", stage, path+suffix)
			}
		}
	}
	checkFiles("open")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkFiles("closed")
}

func TestWrongBoxCannotReadAccounts(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if err := db.CreateAccount(ctx, sampleAccount("alice")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	other, err := secrets.NewBox(bytes.Repeat([]byte{9}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db2, err := Open(ctx, path, other)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	_, err = db2.ListAccounts(ctx)
	if !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("err = %v, want secrets.ErrOpen", err)
	}
	if strings.Contains(err.Error(), "TOKEN-PLAINTEXT") {
		t.Fatal("error leaks a secret")
	}
}

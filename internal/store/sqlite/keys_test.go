package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestKeyCRUD(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	fixed := time.Date(2030, 2, 3, 4, 5, 6, 7_000_000, time.UTC)
	db.now = func() time.Time { return fixed }

	k := &store.Key{
		Name: "ci", Hash: secrets.HashKey("sk-qr-one"), Prefix: "sk-qr-one",
		ExpiresAt:     fixed.Add(24 * time.Hour),
		AllowedModels: []string{"qwen3-max"},
		RPM:           60, MaxConcurrent: 4, DailyTokenQuota: 1_000_000,
	}
	if err := db.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if k.ID == 0 || !k.CreatedAt.Equal(fixed) {
		t.Fatalf("create: id %d created %v", k.ID, k.CreatedAt)
	}
	got, err := db.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, k) {
		t.Fatalf("get:\n got %+v\nwant %+v", got, k)
	}
	byHash, err := db.GetKeyByHash(ctx, secrets.HashKey("sk-qr-one"))
	if err != nil || byHash.ID != k.ID {
		t.Fatalf("by hash: %+v, %v", byHash, err)
	}
	if _, err := db.GetKeyByHash(ctx, secrets.HashKey("sk-qr-two")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}

	// Update: revoke, clear expiry and models, change limits. Hash, prefix
	// and creation time are not writable.
	upd := *got
	upd.Name, upd.ExpiresAt, upd.RevokedAt, upd.AllowedModels = "ci-old", time.Time{}, fixed.Add(time.Hour), nil
	upd.RPM, upd.MaxConcurrent, upd.DailyTokenQuota = 0, 1, 5
	upd.Hash, upd.Prefix, upd.CreatedAt = secrets.HashKey("other"), "other", time.Time{}
	if err := db.UpdateKey(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	after, err := db.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := upd
	want.Hash, want.Prefix, want.CreatedAt = k.Hash, k.Prefix, k.CreatedAt
	if !reflect.DeepEqual(after, &want) {
		t.Fatalf("after update:\n got %+v\nwant %+v", after, &want)
	}

	k2 := &store.Key{Name: "second", Hash: secrets.HashKey("sk-qr-two")}
	if err := db.CreateKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListKeys(ctx)
	if err != nil || len(list) != 2 || list[0].ID != k.ID || list[1].ID != k2.ID {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

func TestKeyErrors(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if err := db.CreateKey(ctx, &store.Key{Name: "a", Hash: secrets.HashKey("x")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"duplicate hash", func() error { return db.CreateKey(ctx, &store.Key{Name: "b", Hash: secrets.HashKey("x")}) }, store.ErrConflict},
		{"get missing", func() error { _, err := db.GetKey(ctx, 42); return err }, store.ErrNotFound},
		{"update missing", func() error { return db.UpdateKey(ctx, &store.Key{ID: 42}) }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := db.CreateKey(ctx, &store.Key{Name: "nohash"}); err == nil {
		t.Fatal("created a key without a hash")
	}
}

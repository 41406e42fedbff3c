package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

func sampleAccount(name string) *store.Account {
	ms := func(s string) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t.UTC()
	}
	return &store.Account{
		Name:          name,
		Email:         name + "@example.com",
		Password:      "hunter2-" + name,
		Token:         "eyJhbGciOiJIUzI1NiJ9.TOKEN-PLAINTEXT-" + name,
		TokenExpiry:   ms("2031-01-02T03:04:05.678Z"),
		Proxy:         "http://user:proxy-pass@10.0.0.1:3128",
		State:         store.StateCooling,
		StateReason:   "rate limited",
		StateSince:    ms("2030-05-06T07:08:09.010Z"),
		CoolUntil:     ms("2030-05-06T08:08:09.010Z"),
		PunishURL:     "https://example.com/captcha",
		MaxConcurrent: 3,
		MinInterval:   1500 * time.Millisecond,
		Models:        []string{"qwen3-max", "qwen-plus"},
		LastUsedAt:    ms("2030-05-06T07:00:00Z"),
	}
}

func TestAccountCRUD(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
	db.now = func() time.Time { return fixed }

	a := sampleAccount("alice")
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || !a.CreatedAt.Equal(fixed.Truncate(time.Millisecond)) || !a.UpdatedAt.Equal(a.CreatedAt) {
		t.Fatalf("create did not set ID/times: %d %v %v", a.ID, a.CreatedAt, a.UpdatedAt)
	}
	got, err := db.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("get:\n got %+v\nwant %+v", got, a)
	}

	// Update every field, including clearing secrets and models.
	db.now = func() time.Time { return fixed.Add(time.Hour) }
	got.Name, got.Email, got.Password, got.Token, got.Proxy = "alice2", "", "", "new-token", ""
	got.State, got.StateReason, got.CoolUntil, got.Models = store.StateActive, "", time.Time{}, nil
	got.MinInterval, got.MaxConcurrent = 0, 0
	if err := db.UpdateAccount(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, err := db.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpdatedAt.Equal(fixed.Add(time.Hour).Truncate(time.Millisecond)) || !again.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("update times: created %v updated %v", again.CreatedAt, again.UpdatedAt)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("after update:\n got %+v\nwant %+v", again, got)
	}

	b := &store.Account{Name: "bob", Token: "t"}
	if err := db.CreateAccount(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.State != store.StateActive {
		t.Errorf("default state = %q", b.State)
	}
	list, err := db.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID || list[1].Token != "t" {
		t.Fatalf("list = %+v", list)
	}

	if err := db.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAccount(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestAccountErrors(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	a := sampleAccount("alice")
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := sampleAccount("bob")
	if err := db.CreateAccount(ctx, b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"create duplicate name", func() error { return db.CreateAccount(ctx, sampleAccount("alice")) }, store.ErrConflict},
		{"rename onto taken name", func() error {
			c := *b
			c.Name = "alice"
			return db.UpdateAccount(ctx, &c)
		}, store.ErrConflict},
		{"get missing", func() error { _, err := db.GetAccount(ctx, 999); return err }, store.ErrNotFound},
		{"update missing", func() error { c := *a; c.ID = 999; c.Name = "zed"; return db.UpdateAccount(ctx, &c) }, store.ErrNotFound},
		{"delete missing", func() error { return db.DeleteAccount(ctx, 999) }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := db.CreateAccount(ctx, &store.Account{}); err == nil {
		t.Error("created an account without a name")
	}
	// A failed create leaves nothing behind and the store usable.
	list, err := db.ListAccounts(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list after errors: %d, %v", len(list), err)
	}
}

func TestListAccountsEmpty(t *testing.T) {
	db, _ := openTest(t)
	list, err := db.ListAccounts(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("list = %v, %v", list, err)
	}
}

// TestUpdateAccountCompareAndSwap: an update from a stale read fails with
// store.ErrVersionConflict and changes nothing; each write bumps the
// version once; a deleted account is never recreated by an update.
func TestUpdateAccountCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	a := sampleAccount("alice")
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 {
		t.Fatalf("version after create = %d, want 1", a.Version)
	}
	relay, _ := db.GetAccount(ctx, a.ID)    // the relay's read
	operator, _ := db.GetAccount(ctx, a.ID) // the CLI's read
	operator.State, operator.StateReason = store.StateDisabled, "disabled by the admin"
	if err := db.UpdateAccount(ctx, operator); err != nil {
		t.Fatal(err)
	}
	if operator.Version != 2 {
		t.Fatalf("version after one update = %d, want 2", operator.Version)
	}
	steps := []struct {
		name    string
		write   *store.Account
		mut     func(*store.Account)
		want    error
		version int64 // stored version afterwards
		state   store.AccountState
	}{
		{"stale write refused", relay, func(a *store.Account) { a.State = store.StateCooling }, store.ErrVersionConflict, 2, store.StateDisabled},
		{"refused twice (no partial bump)", relay, func(a *store.Account) { a.State = store.StateActive }, store.ErrVersionConflict, 2, store.StateDisabled},
		{"fresh write passes", operator, func(a *store.Account) { a.StateReason = "still off" }, nil, 3, store.StateDisabled},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := s.write.Version
			s.mut(s.write)
			err := db.UpdateAccount(ctx, s.write)
			if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, s.want)
			}
			if s.want != nil && (!errors.Is(err, store.ErrConflict) || s.write.Version != before) {
				t.Fatalf("a refused write must wrap ErrConflict and leave Version alone: %v, %d", err, s.write.Version)
			}
			got, err := db.GetAccount(ctx, a.ID)
			if err != nil || got.Version != s.version || got.State != s.state {
				t.Fatalf("stored %+v, %v; want version %d, state %s", got, err, s.version, s.state)
			}
		})
	}
	if err := db.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateAccount(ctx, operator); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a deleted account: %v, want ErrNotFound", err)
	}
	if l, _ := db.ListAccounts(ctx); len(l) != 0 {
		t.Fatalf("an update recreated a deleted account: %+v", l)
	}
}

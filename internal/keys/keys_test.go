package keys

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func newTestService(t *testing.T, opts ...Option) (*Service, *memStore, *clock, *fakeTokens) {
	t.Helper()
	clk := &clock{t: t0}
	st := &memStore{now: clk.Now}
	tok := &fakeTokens{}
	return NewService(st, clk.Now, tok, opts...), st, clk, tok
}

func TestCreateKeyFormatAndStorage(t *testing.T) {
	s, st, _, _ := newTestService(t)
	plain, k, err := s.Create(context.Background(), CreateParams{Name: " ci ", RPM: 10, AllowedModels: []string{"qwen-max", " ", "qwen-max"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "sk-qr-") || len(plain) != 46 || !wellFormed(plain) {
		t.Fatalf("plain key %q has the wrong shape", plain)
	}
	want := sha256.Sum256([]byte(plain))
	if string(k.Hash) != string(want[:]) {
		t.Fatal("stored hash is not sha256 of the plain key")
	}
	if k.Prefix != plain[:10] || k.Name != "ci" || len(k.AllowedModels) != 1 || k.ID == 0 {
		t.Fatalf("key = %+v", k)
	}
	for _, sk := range st.keys {
		if strings.Contains(string(sk.Hash), plain) || strings.Contains(sk.Prefix+sk.Name, plain) {
			t.Fatal("plain key stored")
		}
	}
	other, _, err := s.Create(context.Background(), CreateParams{})
	if err != nil || other == plain {
		t.Fatalf("second key %v, err %v", other == plain, err)
	}
}

func TestCreateValidation(t *testing.T) {
	s, _, _, _ := newTestService(t)
	tests := []struct {
		name  string
		p     CreateParams
		param string
	}{
		{"negative rpm", CreateParams{RPM: -1}, "rpm"},
		{"negative concurrency", CreateParams{MaxConcurrent: -1}, "max_concurrent"},
		{"negative quota", CreateParams{DailyTokenQuota: -1}, "daily_token_quota"},
		{"expiry in the past", CreateParams{ExpiresAt: t0.Add(-time.Second)}, "expires_at"},
		{"long name", CreateParams{Name: strings.Repeat("x", 201)}, "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Create(context.Background(), tc.p)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Param != tc.param {
				t.Fatalf("err = %v, want ValidationError on %s", err, tc.param)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _, clk, _ := newTestService(t)
	plain, k, err := s.Create(ctx, CreateParams{Name: "a", ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, plain)
	if err != nil || got.ID != k.ID {
		t.Fatalf("Authenticate = %v, %v", got, err)
	}
	tests := []struct {
		name, key string
		want      error
	}{
		{"empty", "", ErrUnknownKey},
		{"garbage", "hello", ErrUnknownKey},
		{"wrong prefix", "sk-xx-" + plain[6:], ErrUnknownKey},
		{"well formed but unknown", plain[:45] + flip(plain[45]), ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, tc.key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Fatal("error echoes the key")
			}
		})
	}
	clk.Add(time.Hour)
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry err = %v", err)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestRevokeInvalidatesCache(t *testing.T) {
	ctx := context.Background()
	s, st, _, _ := newTestService(t)
	plain, k, _ := s.Create(ctx, CreateParams{})
	for range 5 {
		if _, err := s.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.lookups.Load(); n != 1 {
		t.Fatalf("store hit %d times for 5 authentications, want 1 (cache)", n)
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revoke err = %v", err)
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.Revoke(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestCacheExpiresAndSeesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	s, st, clk, _ := newTestService(t)
	plain, k, _ := s.Create(ctx, CreateParams{})
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	// Another replica revokes the key directly in the store.
	k.RevokedAt = t0
	_ = st.UpdateKey(ctx, k)
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatalf("within the TTL the cached key is used, got %v", err)
	}
	clk.Add(DefaultCacheTTL)
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the TTL err = %v", err)
	}
}

func TestStoreErrorIsNotCached(t *testing.T) {
	ctx := context.Background()
	s, st, _, _ := newTestService(t)
	plain, _, _ := s.Create(ctx, CreateParams{})
	st.fail = errors.New("disk on fire")
	if _, err := s.Authenticate(ctx, plain); err == nil || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want the store error", err)
	}
	st.fail = nil
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatalf("after recovery err = %v", err)
	}
}

// TestHashMismatchRejected covers the constant-time confirmation: a store
// that returns a row for the wrong hash must not authenticate the caller.
func TestHashMismatchRejected(t *testing.T) {
	ctx := context.Background()
	s, st, _, _ := newTestService(t)
	plain, _, _ := s.Create(ctx, CreateParams{})
	st.keys[0].Hash[0] ^= 0xff // corrupt the row; lyingStore returns it for any hash
	ls := &lyingStore{memStore: st}
	s2 := NewService(ls, s.now, nil)
	if _, err := s2.Authenticate(ctx, plain); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}

type lyingStore struct{ *memStore }

func (l *lyingStore) GetKeyByHash(context.Context, []byte) (*store.Key, error) {
	return cp(l.keys[0]), nil
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	s, _, _, _ := newTestService(t)
	plain, k, _ := s.Create(ctx, CreateParams{Name: "a", RPM: 5})
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	name, rpm, models := "b", 7, []string{"qwen-plus"}
	up, err := s.Update(ctx, k.ID, UpdateParams{Name: &name, RPM: &rpm, AllowedModels: &models})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "b" || up.RPM != 7 || up.AllowedModels[0] != "qwen-plus" {
		t.Fatalf("updated = %+v", up)
	}
	got, _ := s.Authenticate(ctx, plain)
	if got.RPM != 7 {
		t.Fatal("cache not invalidated by Update")
	}
	bad := -2
	var ve *ValidationError
	if _, err := s.Update(ctx, k.ID, UpdateParams{MaxConcurrent: &bad}); !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Update(ctx, 42, UpdateParams{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].RPM != 7 {
		t.Fatalf("list = %+v", list)
	}
}

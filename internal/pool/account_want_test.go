package pool

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// TestWantAccount: Want.Account pins the lease to one account (a video
// task is polled by the account that submitted it), and fails with a
// NoCredentialError when that account cannot be used.
func TestWantAccount(t *testing.T) {
	e := newEnv(t, Options{MinInterval: -1, AcquireTimeout: time.Second})
	_, a := e.account("a", time.Hour, "", nil)
	_, b := e.account("b", time.Hour, "", nil)
	_, c := e.account("c", time.Hour, "", func(x *store.Account) { x.State = store.StateDisabled })
	tests := []struct {
		name    string
		account int64
		wantID  int64
		wantErr bool
	}{
		{"first", a.ID, a.ID, false},
		{"second", b.ID, b.ID, false},
		{"second again", b.ID, b.ID, false},
		{"disabled", c.ID, 0, true},
		{"unknown", 999, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := e.pool.Acquire(context.Background(), relay.Want{Model: model, Account: tc.account})
			if tc.wantErr {
				var nc *relay.NoCredentialError
				if !errors.As(err, &nc) {
					t.Fatalf("err = %v, want NoCredentialError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(nil)
			if got := l.(interface{ AccountID() int64 }).AccountID(); got != tc.wantID {
				t.Fatalf("leased account %d, want %d", got, tc.wantID)
			}
		})
	}
}

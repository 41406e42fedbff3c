package app

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/pool/memstore"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func jwt(id string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." +
		enc.EncodeToString([]byte(`{"id":"`+id+`","exp":1900000000}`)) + "." + enc.EncodeToString([]byte("sig"))
}

// TestImportEnvTokens: well-formed tokens become active accounts (once);
// a placeholder anywhere in the list stops the import before anything is
// stored, naming its position and not its text.
func TestImportEnvTokens(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name    string
		tokens  []string
		stored  int
		wantErr string
	}{
		{"good", []string{jwt("a"), jwt("b")}, 2, ""},
		{"repeated start", []string{jwt("a"), jwt("a")}, 1, ""},
		{"placeholder second", []string{jwt("a"), "eyJhbGciOi...PLACEHOLDER"}, 0, "token #2"},
		{"garbage first", []string{"hello", jwt("b")}, 0, "token #1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			err := importEnvTokens(ctx, config.Config{QwenTokens: tc.tokens}, st, log)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "PLACEHOLDER")) {
				t.Fatalf("err = %v, want %q without the token", err, tc.wantErr)
			}
			list, _ := st.ListAccounts(ctx)
			if len(list) != tc.stored {
				t.Fatalf("%d accounts stored, want %d", len(list), tc.stored)
			}
			for _, a := range list {
				if a.State != store.StateActive || a.TokenExpiry.IsZero() {
					t.Errorf("imported %+v", a)
				}
			}
		})
	}
}

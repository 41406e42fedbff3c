package admin

import (
	"encoding/base64"
	"net/http"
	"testing"
)

// TestAddAccountNoCheck: no_check reaches the pool; since nothing
// upstream will judge the token then, a token that is not a JWT (the
// README's placeholder) is refused here, without echoing it.
func TestAddAccountNoCheck(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	jwt := enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"id":"u","exp":1900000000}`)) + ".SECRETsigna"
	for _, tc := range []struct {
		name    string
		body    string
		status  int
		noCheck bool
	}{
		{"no_check with a JWT", `{"token":"` + jwt + `","no_check":true}`, http.StatusCreated, true},
		{"no_check with a placeholder", `{"token":"eyJhbGciOi...SECRET","no_check":true}`, http.StatusBadRequest, false},
		{"checked: the upstream judges", `{"name":"c","token":"` + secretToken + `"}`, http.StatusCreated, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			st, m, _ := hs.do("POST", "/admin/accounts", tc.body)
			if tc.status == http.StatusBadRequest {
				wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", "token")
				if len(hs.accounts.added) != 0 {
					t.Fatal("a refused account reached the pool")
				}
				hs.assertNoSecrets("eyJhbGciOi...SECRET")
				return
			}
			if st != tc.status || len(hs.accounts.added) != 1 || hs.accounts.added[0].NoCheck != tc.noCheck {
				t.Fatalf("%d %v, added %+v", st, m, hs.accounts.added)
			}
			hs.assertNoSecrets(jwt)
		})
	}
}

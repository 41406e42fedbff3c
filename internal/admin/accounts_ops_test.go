package admin

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"
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

// TestUpdateAccount: PATCH changes only the fields sent and answers with
// the account; bad values are 400 naming the field, never echoing a
// secret; an unknown account is 404.
func TestUpdateAccount(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	jwt := enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"id":"u","exp":1900000000}`)) + ".SECRETsigna"
	tests := []struct {
		name, path, body string
		status           int
		param            string
	}{
		{"limits", "/admin/accounts/1", `{"max_concurrent":3,"min_interval":"2s"}`, http.StatusOK, ""},
		{"token and proxy", "/admin/accounts/1", `{"token":"` + jwt + `","proxy":""}`, http.StatusOK, ""},
		{"rename", "/admin/accounts/1", `{"name":" new "}`, http.StatusOK, ""},
		{"nothing", "/admin/accounts/1", `{}`, http.StatusBadRequest, ""},
		{"placeholder token", "/admin/accounts/1", `{"token":"eyJhbGciOi...SECRET"}`, http.StatusBadRequest, "token"},
		{"bad proxy", "/admin/accounts/1", `{"proxy":"ftp://user:proxySECRET@h"}`, http.StatusBadRequest, "proxy"},
		{"negative limit", "/admin/accounts/1", `{"max_concurrent":-1}`, http.StatusBadRequest, "max_concurrent"},
		{"bad interval", "/admin/accounts/1", `{"min_interval":"soon"}`, http.StatusBadRequest, "min_interval"},
		{"empty name", "/admin/accounts/1", `{"name":"  "}`, http.StatusBadRequest, "name"},
		{"unknown account", "/admin/accounts/9", `{"max_concurrent":1}`, http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			hs.do("POST", "/admin/accounts", `{"name":"a","token":"`+secretToken+`","proxy":"`+secretProxy+`"}`)
			st, m, _ := hs.do("PATCH", tc.path, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, m)
			}
			if tc.status == http.StatusBadRequest {
				wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", tc.param)
			}
			hs.assertNoSecrets(jwt, "eyJhbGciOi...SECRET")
			if tc.status != http.StatusOK {
				return
			}
			a := hs.accounts.accts[0]
			switch tc.name {
			case "limits":
				if a.MaxConcurrent != 3 || a.MinInterval != 2*time.Second || a.Proxy != secretProxy || a.Name != "a" {
					t.Errorf("%+v", a)
				}
			case "token and proxy":
				if a.Token != jwt || a.Proxy != "" {
					t.Errorf("token/proxy not applied")
				}
			case "rename":
				if a.Name != "new" || m["name"] != "new" {
					t.Errorf("name %q, answer %v", a.Name, m["name"])
				}
			}
		})
	}
}

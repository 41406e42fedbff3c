package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

func TestAccountsRoutes(t *testing.T) {
	hs := newHarness(t)
	st, m, _ := hs.do("POST", "/admin/accounts", `{"name":"tok","token":"`+secretToken+`","proxy":"`+secretProxy+`","max_concurrent":2,"min_interval":"1.5s"}`)
	if st != http.StatusCreated || m["id"] != 1.0 || m["name"] != "tok" || m["proxy"] != "http://***@proxy" {
		t.Fatalf("add by token: %d %v", st, m)
	}
	if got := hs.accounts.added[0]; got.Token != secretToken || got.MinInterval != 1500*time.Millisecond || got.MaxConcurrent != 2 {
		t.Fatalf("passed to Accounts: name=%s interval=%v max=%d", got.Name, got.MinInterval, got.MaxConcurrent)
	}
	st, m, _ = hs.do("POST", "/admin/accounts", `{"email":"a@example.com","password":"`+secretPassword+`"}`)
	if st != http.StatusCreated || m["has_password"] != true || m["email"] != "a@example.com" {
		t.Fatalf("add by password: %d %v", st, m)
	}
	st, m, _ = hs.do("POST", "/admin/accounts", `{"name":"tok","token":"`+secretToken+`"}`)
	wantError(t, st, m, http.StatusConflict, "", "")
	st, m, _ = hs.do("POST", "/admin/accounts", `{"token":"`+refusedToken+`"}`)
	wantError(t, st, m, http.StatusBadGateway, "upstream_error", "")
	if msg := m["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "token rejected by Qwen Chat (401)") {
		t.Fatalf("upstream message not passed through: %s", msg)
	}

	st, m, _ = hs.do("GET", "/admin/accounts", "")
	if data := m["data"].([]any); st != http.StatusOK || len(data) != 2 || m["object"] != "list" {
		t.Fatalf("list: %d %v", st, m)
	}
	st, m, _ = hs.do("POST", "/admin/accounts/1/disable", "")
	if st != http.StatusOK || m["state"] != "disabled" {
		t.Fatalf("disable: %d %v", st, m)
	}
	st, m, _ = hs.do("POST", "/admin/accounts/1/enable", "")
	if st != http.StatusOK || m["state"] != "active" {
		t.Fatalf("enable: %d %v", st, m)
	}
	st, m, _ = hs.do("POST", "/admin/accounts/2/test", "")
	if st != http.StatusOK || m["id"] != 2.0 {
		t.Fatalf("test: %d %v", st, m)
	}
	st, m, _ = hs.do("DELETE", "/admin/accounts/2", "")
	if st != http.StatusOK || m["deleted"] != true {
		t.Fatalf("delete: %d %v", st, m)
	}
	for _, r := range [][2]string{{"POST", "/admin/accounts/2/enable"}, {"POST", "/admin/accounts/2/disable"},
		{"POST", "/admin/accounts/2/test"}, {"DELETE", "/admin/accounts/2"}} {
		st, m, _ = hs.do(r[0], r[1], "")
		wantError(t, st, m, http.StatusNotFound, "not_found_error", "id")
	}
	for _, id := range []string{"abc", "0", "-1", "99999999999999999999"} {
		st, m, _ = hs.do("POST", "/admin/accounts/"+id+"/test", "")
		wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", "id")
	}
	hs.assertNoSecrets()
}

func TestAddAccountValidation(t *testing.T) {
	hs := newHarness(t)
	tests := []struct{ name, body, param string }{
		{"nothing", `{}`, "token"},
		{"password only", `{"password":"` + secretPassword + `"}`, "email"},
		{"email only", `{"email":"a@example.com"}`, "password"},
		{"bad email", `{"email":"nope","password":"` + secretPassword + `"}`, "email"},
		{"bad interval", `{"token":"` + secretToken + `","min_interval":"soon"}`, "min_interval"},
		{"negative concurrency", `{"token":"` + secretToken + `","max_concurrent":-1}`, "max_concurrent"},
		{"bad proxy", `{"token":"` + secretToken + `","proxy":"ftp://user:proxySECRET@h"}`, "proxy"},
		{"unknown field", `{"token":"` + secretToken + `","cookie":"x"}`, "cookie"},
		{"token wrong type", `{"token":42}`, "token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, m, _ := hs.do("POST", "/admin/accounts", tc.body)
			wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", tc.param)
		})
	}
	if len(hs.accounts.added) != 0 {
		t.Fatal("an invalid request reached Accounts")
	}
	hs.assertNoSecrets()
}

func TestKeysRoutes(t *testing.T) {
	hs := newHarness(t)
	st, m, raw := hs.do("POST", "/admin/keys", `{"name":"ci","rpm":60,"max_concurrent":2,"daily_token_quota":1000,"allowed_models":["qwen-max"],"expires_at":"2999-01-01T00:00:00Z"}`)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, raw)
	}
	plain, _ := m["key"].(string)
	if !strings.HasPrefix(plain, keys.KeyPrefix) || m["prefix"] != plain[:10] || m["status"] != "active" || m["rpm"] != 60.0 {
		t.Fatalf("create response: %v", m)
	}
	if _, ok := m["hash"]; ok {
		t.Fatal("hash in the response")
	}
	if k, err := hs.keys.Authenticate(t.Context(), plain); err != nil || k.Name != "ci" {
		t.Fatalf("the created key does not authenticate: %v", err)
	}

	st, m, _ = hs.do("GET", "/admin/keys", "")
	data := m["data"].([]any)
	if st != http.StatusOK || len(data) != 1 {
		t.Fatalf("list: %d %v", st, m)
	}
	if k := data[0].(map[string]any); k["key"] != nil || k["hash"] != nil || k["expires_at"] != "2999-01-01T00:00:00Z" {
		t.Fatalf("listed key: %v", k)
	}

	st, m, _ = hs.do("PATCH", "/admin/keys/1", `{"name":"ci2","rpm":0,"allowed_models":[],"expires_at":null}`)
	if st != http.StatusOK || m["name"] != "ci2" || m["rpm"] != 0.0 || m["expires_at"] != nil ||
		len(m["allowed_models"].([]any)) != 0 || m["max_concurrent"] != 2.0 {
		t.Fatalf("patch: %d %v", st, m)
	}
	st, m, _ = hs.do("PATCH", "/admin/keys/1", `{"max_concurrent":-3}`)
	wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", "max_concurrent")
	st, m, _ = hs.do("PATCH", "/admin/keys/1", `{"secret":1}`)
	wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", "secret")
	st, m, _ = hs.do("PATCH", "/admin/keys/9", `{}`)
	wantError(t, st, m, http.StatusNotFound, "not_found_error", "id")

	st, m, _ = hs.do("DELETE", "/admin/keys/1", "")
	if st != http.StatusOK || m["status"] != "revoked" || m["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", st, m)
	}
	if _, err := hs.keys.Authenticate(t.Context(), plain); err != keys.ErrRevoked {
		t.Fatalf("after revoke: %v", err)
	}
	st, m, _ = hs.do("DELETE", "/admin/keys/7", "")
	wantError(t, st, m, http.StatusNotFound, "not_found_error", "")

	// The plain key was in exactly one response (the create) and no log line.
	n := 0
	for _, b := range hs.bodies {
		if strings.Contains(b, plain) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("plain key in %d responses, want 1", n)
	}
	if logs := hs.logs.String(); strings.Contains(logs, plain[10:]) {
		t.Fatalf("plain key in the log:\n%s", logs)
	}
	hs.assertNoSecrets()
}

func TestUsageRoutes(t *testing.T) {
	hs := newHarness(t)
	hs.usage.rows = []store.UsageRecord{{ID: 1, Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), RequestID: "req_1",
		KeyID: 2, Model: "qwen-max", PromptTokens: 3, TTFT: 250 * time.Millisecond, Duration: 2 * time.Second, Status: 200}}
	st, m, _ := hs.do("GET", "/admin/usage?key_id=2&account_id=3&model=qwen-max&from=2025-03-01&to=2025-03-02&limit=50", "")
	row := m["data"].([]any)[0].(map[string]any)
	if st != http.StatusOK || row["request_id"] != "req_1" || row["ttft_ms"] != 250.0 || row["duration_ms"] != 2000.0 {
		t.Fatalf("usage: %d %v", st, m)
	}
	want := store.UsageFilter{KeyID: 2, AccountID: 3, Model: "qwen-max", Limit: 50,
		From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)}
	if f := hs.usage.lastFilter(); !f.From.Equal(want.From) || !f.To.Equal(want.To) || f.KeyID != 2 || f.AccountID != 3 || f.Model != want.Model || f.Limit != 50 {
		t.Fatalf("filter %+v, want %+v", f, want)
	}

	st, m, _ = hs.do("GET", "/admin/usage/daily?from=2025-03-01T00:00:00Z&to=2025-03-01T12:00:00Z", "")
	day := m["data"].([]any)[0].(map[string]any)
	if st != http.StatusOK || day["day"] != "2025-03-01" || day["total_tokens"] != 15.0 {
		t.Fatalf("daily: %d %v", st, m)
	}
	if f := hs.usage.lastFilter(); !f.To.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("RFC 3339 to changed: %v", f.To)
	}

	bad := []struct{ query, param string }{
		{"/admin/usage?key_id=x", "key_id"},
		{"/admin/usage?account_id=-1", "account_id"},
		{"/admin/usage?from=yesterday", "from"},
		{"/admin/usage?to=2025-13-01", "to"},
		{"/admin/usage?from=2025-03-02&to=2025-03-01", "from"},
		{"/admin/usage?limit=0", "limit"},
		{"/admin/usage?limit=100000", "limit"},
		{"/admin/usage/daily?limit=5", "limit"},
	}
	for _, tc := range bad {
		st, m, _ := hs.do("GET", tc.query, "")
		wantError(t, st, m, http.StatusBadRequest, "invalid_request_error", tc.param)
	}
}

package e2e

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/keys"
)

// call sends GET path to the relay (over loopback) with the given headers
// and returns the status and body.
func (e *env) call(t *testing.T, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.relay.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Issue 6: on loopback with no QWENRELAY_API_KEY, a wrong or missing key was
// accepted even when client keys existed, so a reverse proxy on the same
// host opened the relay (and bypassed the keys' limits).
func TestKeysEnforcedOnLoopback(t *testing.T) {
	e := start(t, setup{cfg: func(c *config.Config) { c.APIKey = "" }})
	chat := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	type req struct {
		name, method, path string
		hdr                []string
		want               int
	}
	check := func(t *testing.T, reqs []req) {
		t.Helper()
		for _, r := range reqs {
			body := ""
			if r.method == http.MethodPost {
				body = chat
			}
			if got, b := e.call(t, r.method, r.path, body, r.hdr...); got != r.want {
				t.Errorf("%s: %d, want %d: %s", r.name, got, r.want, b)
			} else if got == 401 && !strings.Contains(b, `"invalid_request_error"`) {
				t.Errorf("%s: 401 is not an OpenAI error: %s", r.name, b)
			}
		}
	}
	post, get := http.MethodPost, http.MethodGet

	t.Run("no key anywhere: loopback is open, proxies are not", func(t *testing.T) {
		check(t, []req{
			{"no key", post, "/v1/chat/completions", nil, 200},
			{"any string", post, "/v1/chat/completions", []string{"Authorization", "Bearer whatever"}, 200},
			{"X-Forwarded-For", post, "/v1/chat/completions", []string{"X-Forwarded-For", "198.51.100.7"}, 401},
			{"Forwarded", get, "/v1/models", []string{"Forwarded", "for=198.51.100.7;proto=https"}, 401},
			{"X-Real-Ip", get, "/v1/models", []string{"X-Real-Ip", "198.51.100.7"}, 401},
			{"metrics", get, "/metrics", nil, 200},
			{"metrics through a proxy", get, "/metrics", []string{"X-Forwarded-For", "198.51.100.7"}, 401},
		})
	})

	good, _ := e.createKey(t, map[string]any{"name": "good"})
	revoked, revokedID := e.createKey(t, map[string]any{"name": "gone"})
	if code := e.adminDo(http.MethodDelete, "/admin/keys/"+strconv.FormatInt(revokedID, 10), nil, nil); code/100 != 2 {
		t.Fatalf("revoke: %d", code)
	}
	expiring, _ := e.createKey(t, map[string]any{"name": "short", "expires_at": time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano)})
	time.Sleep(400 * time.Millisecond) // let it expire (the relay's clock is the real one)

	t.Run("keys exist: every caller needs a valid one", func(t *testing.T) {
		check(t, []req{
			{"no key", post, "/v1/chat/completions", nil, 401},
			{"wrong key", post, "/v1/chat/completions", []string{"Authorization", "Bearer sk-qr-" + strings.Repeat("x", 40)}, 401},
			{"junk key", get, "/v1/models", []string{"Authorization", "Bearer whatever"}, 401},
			{"revoked key", post, "/v1/chat/completions", []string{"Authorization", "Bearer " + revoked}, 401},
			{"expired key", post, "/v1/chat/completions", []string{"Authorization", "Bearer " + expiring}, 401},
			{"valid key", post, "/v1/chat/completions", []string{"Authorization", "Bearer " + good}, 200},
			{"valid x-api-key", get, "/v1/models", []string{"X-Api-Key", good}, 200},
			{"metrics without a key", get, "/metrics", nil, 401},
			{"metrics with a revoked key", get, "/metrics", []string{"Authorization", "Bearer " + revoked}, 401},
			{"metrics with a valid key", get, "/metrics", []string{"Authorization", "Bearer " + good}, 200},
			{"health stays open", get, "/healthz", nil, 200},
		})
	})
}

// A key created by another process (the CLI writes the store directly) is
// noticed within the presence cache's few seconds, without a restart.
func TestKeyCreatedElsewhereClosesLoopback(t *testing.T) {
	e := start(t, setup{cfg: func(c *config.Config) { c.APIKey = "" }})
	if got, b := e.call(t, http.MethodGet, "/v1/models", ""); got != 200 {
		t.Fatalf("no keys yet: %d %s", got, b)
	}
	cli := keys.NewService(e.relayApp.Store, nil, nil)
	if _, _, err := cli.Create(context.Background(), keys.CreateParams{Name: "from-cli"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * keys.DefaultPresenceTTL)
	for {
		got, _ := e.call(t, http.MethodGet, "/v1/models", "")
		if got == 401 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d long after another process created a key", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

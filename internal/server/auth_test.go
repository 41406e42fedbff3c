package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// fakeKeys is a KeyAuth with fixed answers.
type fakeKeys struct {
	any    bool
	anyErr error
	keys   map[string]error // plain key -> Authenticate's error (nil = valid)
}

func (f *fakeKeys) Authenticate(_ context.Context, plain string) (*store.Key, error) {
	err, ok := f.keys[plain]
	switch {
	case !ok:
		return nil, keys.ErrUnknownKey
	case err != nil:
		return nil, err
	}
	return &store.Key{ID: 7, Name: "k"}, nil
}

func (f *fakeKeys) Admit(context.Context, *store.Key, string) (func(int64), error) {
	return func(int64) {}, nil
}

func (f *fakeKeys) AnyKeys(context.Context) (bool, error) { return f.any, f.anyErr }

func authServer(opts Options) http.Handler {
	prov := &fakeProvider{open: answer(upstream.Event{Type: upstream.EventContent, Text: "x"})}
	rl := relay.New(prov, relay.Options{Attempts: 1}, nil, nil)
	var picker relay.Picker = relay.SinglePicker{Cred: upstream.Credential{ID: "token-1", Token: "tok-a"}}
	if opts.Passthrough {
		picker = nil
	}
	opts.MaxInFlight, opts.MaxRequestBytes = 10, 1<<20
	return New(opts, rl, picker, metrics.New(), nil).Handler()
}

// A caller is local only on loopback with no proxy header; once any key
// exists (even a revoked one) or a bootstrap key is set, everyone needs a
// valid key. Regression (issue 6): a loopback caller with a wrong key was
// let in while client keys existed, so a reverse proxy on the same host
// opened the relay to the internet.
func TestWhoMayCall(t *testing.T) {
	const (
		local  = "127.0.0.1:40000"
		local6 = "[::1]:40000"
		remote = "203.0.113.9:40000"
	)
	noKeys := &fakeKeys{}
	someKeys := &fakeKeys{any: true, keys: map[string]error{"sk-good": nil, "sk-revoked": keys.ErrRevoked, "sk-expired": keys.ErrExpired}}
	broken := &fakeKeys{anyErr: errors.New("database is locked")}
	tests := []struct {
		name   string
		opts   Options
		path   string
		remote string
		hdr    []string
		want   int
		code   string
	}{
		{"no keys: loopback without a key", Options{Keys: noKeys}, "/v1/models", local, nil, 200, ""},
		{"no keys: IPv6 loopback", Options{Keys: noKeys}, "/v1/models", local6, nil, 200, ""},
		{"no keys: loopback with any string", Options{Keys: noKeys}, "/v1/models", local, []string{"Authorization", "Bearer anything"}, 200, ""},
		{"no keys: remote", Options{Keys: noKeys}, "/v1/models", remote, nil, 401, "invalid_api_key"},
		{"no keys: X-Forwarded-For is not local", Options{Keys: noKeys}, "/v1/models", local, []string{"X-Forwarded-For", "198.51.100.1"}, 401, "invalid_api_key"},
		{"no keys: Forwarded is not local", Options{Keys: noKeys}, "/v1/models", local, []string{"Forwarded", "for=198.51.100.1"}, 401, "invalid_api_key"},
		{"no keys: X-Real-Ip is not local", Options{Keys: noKeys}, "/v1/models", local, []string{"X-Real-Ip", "198.51.100.1"}, 401, "invalid_api_key"},
		{"no keys: empty X-Forwarded-For still counts", Options{Keys: noKeys}, "/v1/models", local, []string{"X-Forwarded-For", ""}, 401, "invalid_api_key"},
		{"no key service: loopback", Options{}, "/v1/models", local, nil, 200, ""},
		{"keys exist: loopback without a key", Options{Keys: someKeys}, "/v1/models", local, nil, 401, "missing_api_key"},
		{"keys exist: loopback wrong key", Options{Keys: someKeys}, "/v1/models", local, []string{"Authorization", "Bearer sk-wrong"}, 401, "invalid_api_key"},
		{"keys exist: loopback revoked key", Options{Keys: someKeys}, "/v1/models", local, []string{"Authorization", "Bearer sk-revoked"}, 401, "invalid_api_key"},
		{"keys exist: loopback expired key", Options{Keys: someKeys}, "/v1/models", local, []string{"Authorization", "Bearer sk-expired"}, 401, "invalid_api_key"},
		{"keys exist: loopback x-api-key wrong", Options{Keys: someKeys}, "/v1/models", local, []string{"X-Api-Key", "sk-wrong"}, 401, "invalid_api_key"},
		{"keys exist: valid key", Options{Keys: someKeys}, "/v1/models", local, []string{"Authorization", "Bearer sk-good"}, 200, ""},
		{"keys exist: valid key, remote", Options{Keys: someKeys}, "/v1/models", remote, []string{"X-Api-Key", "sk-good"}, 200, ""},
		{"store cannot tell: fails closed", Options{Keys: broken}, "/v1/models", local, nil, 401, "missing_api_key"},
		{"bootstrap key: loopback without a key", Options{APIKey: "sk-boot", Keys: noKeys}, "/v1/models", local, nil, 401, "missing_api_key"},
		{"bootstrap key: loopback wrong key", Options{APIKey: "sk-boot", Keys: noKeys}, "/v1/models", local, []string{"Authorization", "Bearer sk-boo"}, 401, "invalid_api_key"},
		{"bootstrap key: right key", Options{APIKey: "sk-boot", Keys: noKeys}, "/v1/models", remote, []string{"Authorization", "Bearer sk-boot"}, 200, ""},

		{"metrics, no keys: loopback", Options{Keys: noKeys}, "/metrics", local, nil, 200, ""},
		{"metrics, no keys: remote", Options{Keys: noKeys}, "/metrics", remote, nil, 401, "invalid_api_key"},
		{"metrics, no keys: forwarded", Options{Keys: noKeys}, "/metrics", local, []string{"X-Forwarded-For", "198.51.100.1"}, 401, "invalid_api_key"},
		{"metrics, keys exist: loopback without a key", Options{Keys: someKeys}, "/metrics", local, nil, 401, "missing_api_key"},
		{"metrics, keys exist: revoked key", Options{Keys: someKeys}, "/metrics", local, []string{"Authorization", "Bearer sk-revoked"}, 401, "invalid_api_key"},
		{"metrics, keys exist: valid key", Options{Keys: someKeys}, "/metrics", remote, []string{"Authorization", "Bearer sk-good"}, 200, ""},
		{"metrics, bootstrap key: right key", Options{APIKey: "sk-boot"}, "/metrics", remote, []string{"Authorization", "Bearer sk-boot"}, 200, ""},
		{"metrics, bootstrap key: none", Options{APIKey: "sk-boot"}, "/metrics", local, nil, 401, "missing_api_key"},
		{"metrics, passthrough: loopback", Options{Passthrough: true}, "/metrics", local, nil, 200, ""},
		{"metrics, passthrough: any Qwen token from afar", Options{Passthrough: true}, "/metrics", remote, []string{"Authorization", "Bearer qwen-jwt"}, 401, "missing_api_key"},
		{"metrics, passthrough: forwarded", Options{Passthrough: true}, "/metrics", local, []string{"Forwarded", "for=x"}, 401, "missing_api_key"},
		{"metrics, passthrough: bootstrap key", Options{Passthrough: true, APIKey: "sk-boot"}, "/metrics", remote, []string{"Authorization", "Bearer sk-boot"}, 200, ""},
		{"metrics, passthrough with bootstrap key: loopback without it", Options{Passthrough: true, APIKey: "sk-boot"}, "/metrics", local, nil, 401, "missing_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.RemoteAddr = tt.remote
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				r.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			w := httptest.NewRecorder()
			authServer(tt.opts).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want == 200 {
				return
			}
			var eb errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
				t.Fatalf("not an OpenAI error: %s", w.Body)
			}
			if eb.Error.Code == nil || *eb.Error.Code != tt.code {
				t.Errorf("code %v, want %s", eb.Error.Code, tt.code)
			}
			if eb.Error.Type != "invalid_request_error" || len(eb.Error.Message) < 40 {
				t.Errorf("error not helpful: %+v", eb.Error)
			}
			for _, secret := range []string{"sk-boot", "sk-revoked", "sk-wrong", "qwen-jwt"} {
				if strings.Contains(w.Body.String(), secret) {
					t.Errorf("the answer echoes a key: %s", w.Body)
				}
			}
		})
	}
}

// Each 401 says what to do about it.
func TestAuthMessages(t *testing.T) {
	someKeys := &fakeKeys{any: true, keys: map[string]error{"sk-revoked": keys.ErrRevoked, "sk-expired": keys.ErrExpired}}
	for _, tt := range []struct{ token, want string }{
		{"", "Missing API key"},
		{"sk-nope", "Incorrect API key"},
		{"sk-revoked", "revoked"},
		{"sk-expired", "expired"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
			r.RemoteAddr = "127.0.0.1:1"
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			authServer(Options{Keys: someKeys}).ServeHTTP(w, r)
			if w.Code != 401 || !strings.Contains(w.Body.String(), tt.want) || !strings.Contains(w.Body.String(), "keys create") {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
}

package qwen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// modelElement is the reconstructed element of docs/qwen-protocol.md §2.6.
const modelElement = `{"id":"qwen3-max","name":"Qwen3-Max","object":"model","owned_by":"qwen",
 "info":{"id":"qwen3-max","name":"Qwen3-Max","created_at":1757000000,"is_active":true,
  "meta":{"capabilities":{"vision":true,"document":true,"thinking":true,"thinking_budget":true},
          "abilities":{"thinking":1,"vision":1},"max_context_length":262144,
          "max_thinking_generation_length":81920,"chat_type":["t2t","search","t2i","t2v","image_edit"],
          "modality":["text"],"is_single_round":0}}}`

const plainModels = `[` + modelElement + `,
 {"id":"qwen-plus-latest","info":{"meta":{"abilities":{"thinking":0},"capabilities":{"vision":false}}}},
 {"id":"wan-video","info":{"meta":{"chat_type":["t2v"]}}},
 {"name":"no id"}]`

func TestListModels(t *testing.T) {
	want := []upstream.Model{
		{ID: "qwen3-max", Name: "Qwen3-Max", OwnedBy: "qwen", Created: 1757000000, Thinking: true, Vision: true, Search: true, ImageGen: true, ImageEdit: true, MaxContext: 262144, Video: true},
		{ID: "qwen-plus-latest", Name: "qwen-plus-latest", OwnedBy: "qwen"},
	}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		paths   []string
	}{
		{"api/models", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/models" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"data":%s}`, plainModels)
		}, []string{"/api/models"}},
		{"fallback to v2 envelope", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v2/models/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"success":true,"data":{"data":%s}}`, plainModels)
		}, []string{"/api/models", "/api/v2/models/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, nil)
			f.other = tc.handler
			got, err := f.client(t, nil).ListModels(context.Background(), testCred)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("models:\n%v\nwant\n%v", got, want)
			}
			var paths []string
			for _, r := range f.requests() {
				paths = append(paths, r.Path)
				if r.Header.Get("Cookie") != "token="+testToken {
					t.Error("no token cookie on the model list")
				}
			}
			if fmt.Sprint(paths) != fmt.Sprint(tc.paths) {
				t.Errorf("paths %v, want %v", paths, tc.paths)
			}
		})
	}
}

func TestListModelsErrors(t *testing.T) {
	for _, tc := range []struct {
		h     http.HandlerFunc
		kind  upstream.Kind
		calls int
	}{
		{serveBody(401, "application/json", `{"detail":"expired"}`), upstream.KindUnauthorized, 1},
		{serveBody(200, "text/html", wafHTML), upstream.KindWAF, 1},
		{serveBody(200, "application/json", `{"something":"else"}`), upstream.KindBadResponse, 2},
		{serveBody(404, "text/plain", `nope`), upstream.KindBadRequest, 2},
	} {
		f := newFake(t, nil)
		f.other = tc.h
		_, err := f.client(t, nil).ListModels(context.Background(), testCred)
		if kindOf(err) != tc.kind || len(f.requests()) != tc.calls {
			t.Errorf("err %v (%d calls), want %s (%d calls)", err, len(f.requests()), tc.kind, tc.calls)
		}
		checkNoToken(t, err)
	}
}

func TestSignIn(t *testing.T) {
	sum := sha256.Sum256([]byte("hunter2"))
	digest := hex.EncodeToString(sum[:])
	f := newFake(t, nil)
	f.other = func(w http.ResponseWriter, r *http.Request) {
		b := mustJSON(t, f.requests()[len(f.requests())-1].Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/auths/signin" || b["email"] != "a@b.c" || b["password"] != digest {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"detail":"The email or password provided is incorrect."}`)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(`{"id":"u1","token":"` + testToken + `","token_type":"Bearer"}`))
	}
	c := f.client(t, nil)
	tok, err := c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "hunter2")
	if err != nil || tok != testToken {
		t.Fatalf("SignIn = %q, %v", tok, err)
	}
	r := f.requests()[0]
	if r.Header.Get("Authorization") != "" || strings.Contains(r.Header.Get("Cookie"), "token=") {
		t.Error("sign-in must not carry a token")
	}
	// Through the account's own client (its proxy); a token in via is not sent.
	tr := &countingTransport{}
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	via := upstream.Credential{ID: "acct-1", Token: "not-sent", HTTPClient: &http.Client{Transport: tr}}
	if tok, err := c.SignIn(context.Background(), via, "a@b.c", "hunter2"); err != nil || tok != testToken {
		t.Fatalf("SignIn via the account's client = %q, %v", tok, err)
	}
	if tr.n[http.MethodPost] != 1 {
		t.Errorf("sign-in did not go through the account's client: %v", tr.n)
	}
	if r := f.requests()[1]; r.Header.Get("Authorization") != "" || strings.Contains(r.Header.Get("Cookie"), "not-sent") {
		t.Error("sign-in carried via.Token")
	}
	_, err = c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "wrong")
	if ue, ok := upstream.AsError(err); !ok || ue.Kind != upstream.KindUnauthorized || !strings.Contains(ue.Message, "incorrect") {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("password in error: %v", err)
	}
	f.other = serveBody(200, "text/html", wafHTML)
	if _, err := c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "hunter2"); kindOf(err) != upstream.KindWAF {
		t.Errorf("waf: %v", err)
	}
	f.other = serveBody(200, "application/json", `{"id":"u1"}`)
	if _, err := c.SignIn(context.Background(), upstream.Credential{}, "a@b.c", "hunter2"); kindOf(err) != upstream.KindBadResponse {
		t.Errorf("no token: %v", err)
	}
}

func TestTokenExpiry(t *testing.T) {
	enc := func(claims string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
	}
	for _, tc := range []struct {
		tok  string
		want time.Time
		ok   bool
	}{
		{enc(`{"id":"u","exp":1780000000}`), time.Unix(1780000000, 0), true},
		{enc(`{"id":"u","last_password_change":1,"exp":1.78e9}`), time.Unix(1780000000, 0), true},
		{enc(`{"id":"u"}`), time.Time{}, false},
		{"a.b", time.Time{}, false},
		{"a.!!!.c", time.Time{}, false},
		{enc(`not json`), time.Time{}, false},
	} {
		got, ok := TokenExpiry(tc.tok)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("TokenExpiry(%q) = %v, %v", tc.tok, got, ok)
		}
	}
}

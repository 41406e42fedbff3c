package qwenfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestModels(t *testing.T) {
	e := start(t, Options{})
	v1 := e.jsonCall("GET", "/api/models", nil, 200)
	v2 := e.jsonCall("GET", "/api/v2/models/", nil, 200)
	if v2["success"] != true {
		t.Fatalf("v2 envelope %v", v2)
	}
	for _, list := range [][]any{v1["data"].([]any), v2["data"].(map[string]any)["data"].([]any)} {
		if len(list) != len(DefaultModels()) {
			t.Fatalf("%d models", len(list))
		}
		m := list[0].(map[string]any)
		meta := m["info"].(map[string]any)["meta"].(map[string]any)
		if m["id"] != "qwen3.7-plus" || m["info"].(map[string]any)["id"] != "qwen3.7-plus" ||
			meta["abilities"].(map[string]any)["thinking"] != 1.0 || meta["capabilities"].(map[string]any)["vision"] != true ||
			len(meta["chat_type"].([]any)) == 0 || meta["max_context_length"] == nil {
			t.Fatalf("model %v", m)
		}
		coder := list[2].(map[string]any)["info"].(map[string]any)["meta"].(map[string]any)
		if coder["abilities"].(map[string]any)["thinking"] != 0.0 {
			t.Fatalf("coder thinks: %v", coder)
		}
	}
}

func TestAuth(t *testing.T) {
	now := time.Unix(1780000000, 0)
	clock := func() time.Time { return now }
	e := start(t, Options{Now: clock, Secret: []byte("k1")})
	other := New(Options{Secret: []byte("k2"), Now: clock})
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"valid", e.fake.MintToken("u", time.Hour), 200},
		{"expired", e.fake.MintToken("u", -time.Second), 401},
		{"missing", "", 401},
		{"bad signature", other.MintToken("u", time.Hour), 401},
		{"garbage", "a.b.c", 401},
		{"not a jwt", "hello", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.token = tt.token
			for _, path := range []string{"/api/models", "/api/v2/models/", "/api/v1/auths/", "/api/v2/chats/"} {
				v := e.jsonCall("GET", path, nil, tt.status)
				if tt.status == 401 && v["detail"] == nil {
					t.Fatalf("%s: 401 without detail: %v", path, v)
				}
			}
			if tt.status == 401 {
				e.jsonCall("POST", "/api/v2/chats/new", `{"models":["qwen3.7-plus"]}`, 401)
				e.jsonCall("POST", "/api/v2/chat/completions?chat_id=x", `{}`, 401)
			}
		})
	}
	if e.fake.Stats().Failures["auth"] == 0 {
		t.Fatal("auth failures not counted")
	}
	// A token is checked against the clock at every request.
	e.token = e.fake.MintToken("u", time.Minute)
	e.jsonCall("GET", "/api/v1/auths/", nil, 200)
	now = now.Add(2 * time.Minute)
	e.jsonCall("GET", "/api/v1/auths/", nil, 401)
}

func TestMintTokenClaims(t *testing.T) {
	s := New(Options{Now: fixedNow})
	tok := s.MintToken("uid-1", time.Hour)
	c, ok := s.verify(tok)
	if !ok || c.ID != "uid-1" || c.Exp != fixedNow().Add(time.Hour).Unix() || c.LastPasswordChange == 0 || strings.Count(tok, ".") != 2 {
		t.Fatalf("claims %+v ok %v", c, ok)
	}
}

func TestSignin(t *testing.T) {
	e := start(t, Options{})
	uid := e.fake.AddUser("Alice@example.com", "pw")
	if again := e.fake.AddUser("alice@example.com", "pw2"); again != uid {
		t.Fatal("AddUser of an existing e-mail changed the id")
	}
	sum := sha256.Sum256([]byte("pw2"))
	hexPW := hex.EncodeToString(sum[:])
	e.token = ""
	tests := []struct {
		email, password string
		status          int
	}{
		{"alice@example.com", hexPW, 200},
		{"ALICE@example.com", hexPW, 200},
		{"alice@example.com", "pw2", 400}, // plain text is refused
		{"alice@example.com", strings.Repeat("0", 64), 400},
		{"bob@example.com", hexPW, 400},
	}
	for _, tt := range tests {
		v := e.jsonCall("POST", "/api/v1/auths/signin", map[string]string{"email": tt.email, "password": tt.password}, tt.status)
		if tt.status != 200 {
			if v["detail"] == nil {
				t.Fatalf("no detail: %v", v)
			}
			continue
		}
		if v["role"] != "user" || v["id"] != uid || v["token_type"] != "Bearer" {
			t.Fatalf("signin reply %v", v)
		}
		e.token = v["token"].(string)
		if me := e.jsonCall("GET", "/api/v1/auths/", nil, 200); me["id"] != uid || me["email"] != "Alice@example.com" {
			t.Fatalf("auths %v", me)
		}
		e.token = ""
	}
}

func TestChats(t *testing.T) {
	e := start(t, Options{})
	ids := map[string]bool{}
	for range 3 {
		id := e.newChat("qwen3.7-plus")
		if len(id) != 36 || ids[id] {
			t.Fatalf("chat id %q", id)
		}
		ids[id] = true
	}
	var first string
	for id := range ids {
		first = id
		break
	}
	_, res := e.complete(browserBody(first, "qwen3.7-plus", "hello [[qwenfake tokens=3 seed=c]]", false, "summary"))
	if res.frames[0].Created.ChatID != first || res.frames[0].Created.ParentID != "fid-1" {
		t.Fatalf("created %+v", res.frames[0].Created)
	}
	list := e.jsonCall("GET", "/api/v2/chats/?page=1", nil, 200)["data"].([]any)
	if len(list) != 3 || list[0].(map[string]any)["id"] != first {
		t.Fatalf("list %v", list)
	}
	if l := e.jsonCall("GET", "/api/v2/chats/?page=2", nil, 200)["data"].([]any); len(l) != 0 {
		t.Fatalf("page 2: %v", l)
	}
	if l := e.jsonCall("GET", "/api/v2/chats?limit=2&page=2", nil, 200)["data"].([]any); len(l) != 1 {
		t.Fatalf("limit: %v", l)
	}
	detail := e.jsonCall("GET", "/api/v2/chats/"+first, nil, 200)["data"].(map[string]any)
	msgs := detail["chat"].(map[string]any)["messages"].([]any)
	if len(msgs) != 2 || msgs[1].(map[string]any)["content"] != AnswerText("c", 3) ||
		detail["currentId"] != res.frames[0].Created.ResponseID {
		t.Fatalf("detail %v", detail)
	}
	if v := e.jsonCall("DELETE", "/api/v2/chats/"+first, nil, 200); dataField(v, "status") != true {
		t.Fatalf("delete %v", v)
	}
	e.jsonCall("DELETE", "/api/v2/chats/"+first, nil, 404)
	e.jsonCall("GET", "/api/v2/chats/"+first, nil, 404)
	// Another account does not see the chat.
	e.token = e.fake.MintToken("someone-else", time.Hour)
	for id := range ids {
		if id != first {
			e.jsonCall("GET", "/api/v2/chats/"+id, nil, 404)
		}
	}
	e.jsonCall("POST", "/api/v2/chats/new", `{"title":"x"}`, 200) // no models: Bad_Request JSON
	if e.fake.Stats().ChatsNew != 3 {
		t.Fatalf("ChatsNew %d", e.fake.Stats().ChatsNew)
	}
}

func TestCompletionValidation(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	good := func() map[string]any { return simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=2]]", false, "") }
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"unknown chat", "?chat_id=4b8a0e3e-0000-4000-8000-000000000000", good(), 404, "Not_Found"},
		{"missing chat id", "", func() any { b := good(); delete(b, "chat_id"); return b }(), 200, "Bad_Request"},
		{"body chat id only", "", good(), 200, ""},
		{"stream false", "?chat_id=" + id, func() any { b := good(); b["stream"] = false; return b }(), 200, "Bad_Request"},
		{"no messages", "?chat_id=" + id, func() any { b := good(); b["messages"] = []any{}; return b }(), 200, "Bad_Request"},
		{"unknown model", "?chat_id=" + id, func() any { b := good(); b["model"] = "gpt-4"; return b }(), 200, "Bad_Request"},
		{"broken json", "?chat_id=" + id, `{"stream":`, 200, "Bad_Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.code == "" {
				_, res := e.complete(tt.body.(map[string]any))
				if res.answer != AnswerText("", 2) {
					t.Fatalf("%q", res.raw)
				}
				return
			}
			v := e.jsonCall("POST", "/api/v2/chat/completions"+tt.path, tt.body, tt.status)
			if v["success"] != false || dataField(v, "code") != tt.code {
				t.Fatalf("%v", v)
			}
		})
	}
}

func TestBodyLimitAndHeaders(t *testing.T) {
	e := start(t, Options{RequireHeaders: []string{"x-request-id", "bx-v"}})
	hdr := []string{"X-Request-Id", "r1", "Bx-V", "2.5.36"}
	e.jsonCall("POST", "/api/v2/chats/new", `{"models":["qwen3.7-plus"]}`, 200, hdr...)
	id := e.newChatWith(hdr)
	small := simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=1]]", false, "")
	checkWAF(t, e.post(small, "X-Request-Id", "r1"))
	checkWAF(t, e.post(small))
	if _, res := e.complete(small, hdr...); res.answer != AnswerText("", 1) {
		t.Fatalf("with headers: %q", res.raw)
	}
	pad := func(n int) map[string]any {
		b := simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=1]]", false, "")
		b["pad"] = strings.Repeat("x", n)
		return b
	}
	// 117 KB passes, 129 KB gets the captcha (issue #147).
	if _, res := e.complete(pad(117*1024), hdr...); res.answer != AnswerText("", 1) {
		t.Fatalf("117 KB: %.200q", res.raw)
	}
	checkCaptcha(t, e.post(pad(129*1024), hdr...))
	// The size check precedes the token check.
	e.token = ""
	checkCaptcha(t, e.post(pad(129*1024), hdr...))
	if f := e.fake.Stats().Failures; f[ModeWAF] != 2 || f[ModeCaptcha] != 2 {
		t.Fatalf("failures %v", f)
	}
}

func (e *env) newChatWith(hdr []string) string {
	v := e.jsonCall("POST", "/api/v2/chats/new", `{"models":["qwen3.7-plus"]}`, 200, hdr...)
	return v["data"].(map[string]any)["id"].(string)
}

func TestFilesAndTasks(t *testing.T) {
	e := start(t, Options{})
	req := map[string]any{"filename": "a b.pdf", "filesize": 10, "filetype": "document"}
	v1 := e.jsonCall("POST", "/api/v1/files/getstsToken", req, 200)
	v2 := e.jsonCall("POST", "/api/v2/files/getstsToken", req, 200)
	for _, k := range []string{"access_key_id", "access_key_secret", "security_token", "file_url", "file_path", "file_id", "bucketname", "region", "endpoint"} {
		if v1[k] == nil || dataField(v2, k) == nil {
			t.Fatalf("missing %s: %v %v", k, v1, v2)
		}
	}
	e.jsonCall("POST", "/api/v1/files/getstsToken", map[string]any{"filename": "x", "filetype": "exe"}, 400)
	if v := e.jsonCall("POST", "/api/v2/files/getstsToken", map[string]any{"filename": "x", "filetype": "exe"}, 200); v["success"] != false {
		t.Fatalf("%v", v)
	}
	fid := dataField(v2, "file_id").(string)
	status := func() string {
		v := e.jsonCall("POST", "/api/v2/files/parse/status", map[string]any{"file_id_list": []string{fid}}, 200)
		return v["data"].([]any)[0].(map[string]any)["status"].(string)
	}
	if s := status(); s != "pending" {
		t.Fatal(s)
	}
	if v := e.jsonCall("POST", "/api/v2/files/parse", map[string]any{"file_id": fid}, 200); v["success"] != true {
		t.Fatalf("%v", v)
	}
	if s1, s2 := status(), status(); s1 != "running" || s2 != "success" {
		t.Fatal(s1, s2)
	}
	if v := e.jsonCall("POST", "/api/v2/files/parse", map[string]any{"file_id": "nope"}, 200); v["success"] != false {
		t.Fatalf("%v", v)
	}
	// t2v with stream:false gives a task, polled until success.
	id := e.newChat("qwen3.7-plus")
	b := simpleBody(id, "qwen3.7-plus", "a cat", false, "")
	b["stream"], b["chat_type"] = false, "t2v"
	v := e.jsonCall("POST", "/api/v2/chat/completions?chat_id="+id, b, 200)
	task := v["data"].(map[string]any)["messages"].([]any)[0].(map[string]any)["extra"].(map[string]any)["wanx"].(map[string]any)["task_id"].(string)
	poll := func(id string) map[string]any { return e.jsonCall("GET", "/api/v1/tasks/status/"+id, nil, 200) }
	if p1, p2 := poll(task), poll(task); p1["task_status"] != "running" || p2["task_status"] != "success" ||
		!strings.HasSuffix(fmt.Sprint(p2["content"]), ".mp4?key=qwenfake") {
		t.Fatal(p1, p2)
	}
	if p := poll("unknown"); p["task_status"] != "failed" {
		t.Fatal(p)
	}
}

func TestStatsAndAccounts(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	for range 3 {
		e.complete(simpleBody(id, "qwen3.7-plus", "[[qwenfake tokens=2]]", false, ""))
	}
	e.jsonCall("GET", "/nope", nil, 404)
	st := e.fake.Stats()
	if st.Completions != 3 || st.Paths["/api/v2/chat/completions"] != 3 || st.Paths["/api/v2/chats/new"] != 1 ||
		st.Paths["other"] != 1 || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Fatalf("stats %+v", st)
	}
	if a := e.fake.Account(e.uid); a.Requests != 3 || a.InFlight != 0 || a.MaxInFlight != 1 {
		t.Fatalf("account %+v", a)
	}
	if a := e.fake.Account("nobody"); a != (AccountStats{}) {
		t.Fatalf("unknown account %+v", a)
	}
	e.fake.Reset()
	if st := e.fake.Stats(); st.Completions != 0 || len(st.Paths) != 0 || st.BytesOut != 0 || e.fake.Account(e.uid).Requests != 0 {
		t.Fatalf("after Reset %+v", st)
	}
}

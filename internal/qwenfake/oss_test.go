package qwenfake

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// grant asks for an STS token as e's user and returns the reply's data.
func (e *env) grant(name string) map[string]any {
	e.t.Helper()
	v := e.jsonCall("POST", "/api/v2/files/getstsToken", map[string]any{"filename": name, "filesize": 3, "filetype": "image"}, 200)
	return v["data"].(map[string]any)
}

// put PUTs body to the granted object with the given headers (no Qwen token).
func (e *env) put(g map[string]any, hdr map[string]string) (int, string) {
	e.t.Helper()
	url := g["endpoint"].(string) + "/" + g["bucketname"].(string) + "/" + g["file_path"].(string)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, url, strings.NewReader("abc"))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func v4Headers(g map[string]any) map[string]string {
	return map[string]string{
		"Content-Type": "image/png", "x-oss-security-token": g["security_token"].(string),
		"x-oss-date": "20260809T101112Z", "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
		"Authorization": "OSS4-HMAC-SHA256 Credential=" + g["access_key_id"].(string) +
			"/20260809/ap-southeast-1/oss/aliyun_v4_request,Signature=" + strings.Repeat("ab", 32),
	}
}

func TestOSSPutChecks(t *testing.T) {
	e := start(t, Options{})
	cases := []struct {
		name   string
		mutate func(h map[string]string)
		status int
		code   string
	}{
		{"v4 ok", func(map[string]string) {}, 200, ""},
		{"v1 ok", func(h map[string]string) {
			h["Authorization"] = "OSS " + strings.SplitN(strings.TrimPrefix(h["Authorization"], "OSS4-HMAC-SHA256 Credential="), "/", 2)[0] + ":" + strings.Repeat("A", 27) + "="
			h["Date"] = "Sun, 09 Aug 2026 10:11:12 GMT"
		}, 200, ""},
		{"no security token", func(h map[string]string) { delete(h, "x-oss-security-token") }, 403, "InvalidAccessKeyId"},
		{"wrong key id", func(h map[string]string) { h["Authorization"] = strings.Replace(h["Authorization"], "STS.", "XX.", 1) }, 403, "SignatureDoesNotMatch"},
		{"signed payload claim", func(h map[string]string) { h["x-oss-content-sha256"] = "abc" }, 403, "SignatureDoesNotMatch"},
		{"no authorization", func(h map[string]string) { delete(h, "Authorization") }, 403, "SignatureDoesNotMatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := e.grant("a.png")
			h := v4Headers(g)
			tc.mutate(h)
			status, body := e.put(g, h)
			if status != tc.status || !strings.Contains(body, tc.code) {
				t.Fatalf("status %d body %s, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
}

// filesBody is a browser completion whose last message carries files[].
func filesBody(chatID, text string, files ...map[string]any) map[string]any {
	b := browserBody(chatID, "qwen3.7-plus", text, false, "")
	fs := make([]any, len(files))
	for i, f := range files {
		fs[i] = f
	}
	b["messages"].([]any)[0].(map[string]any)["files"] = fs
	return b
}

func TestFilesMustBelongToTheUser(t *testing.T) {
	e := start(t, Options{})
	other := e.fake.MintToken("user-2", time.Hour)
	mine := e.grant("mine.png")
	if st, body := e.put(mine, v4Headers(mine)); st != 200 {
		t.Fatal(st, body)
	}
	notPut := e.grant("later.png")
	entry := func(g map[string]any, class string) map[string]any {
		return map[string]any{"type": "image", "id": g["file_id"], "file_class": class, "file": map[string]any{"id": g["file_id"]}}
	}
	cases := []struct {
		name  string
		token string
		files []map[string]any
		want  string // answer text, or the error detail
	}{
		{"own uploaded file", "", []map[string]any{entry(mine, "vision")}, "file name=mine.png class=vision type=image/png size=3\n"},
		{"another user's file", other, []map[string]any{entry(mine, "vision")}, "File not found"},
		{"granted, never uploaded", "", []map[string]any{entry(notPut, "vision")}, "File not uploaded"},
		{"document not parsed", "", []map[string]any{entry(mine, "document")}, "File not parsed"},
		{"unknown id", "", []map[string]any{{"id": "nope"}}, "File not found"},
		{"no files", "", nil, "files: none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			chat := e.newChatWith(hdr)
			resp, res := e.complete(filesBody(chat, "look [[qwenfake echo=files chunk=100]]", tc.files...), hdr...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := res.answer + strings.Join(res.raw, "")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

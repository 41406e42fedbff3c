package qwenfake

import (
	"encoding/json"
	"strings"
	"testing"
)

// echo=doc shows the text of the documents the message names (as PUT),
// then the message; images are only counted. Stats.MaxCompletionBody is
// the largest completion body read.
func TestEchoDocAndMaxBody(t *testing.T) {
	e := start(t, Options{})
	doc := e.jsonCall("POST", "/api/v2/files/getstsToken", map[string]any{"filename": "history.txt", "filesize": 3, "filetype": "file"}, 200)["data"].(map[string]any)
	if st, body := e.put(doc, v4Headers(doc)); st != 200 {
		t.Fatal(st, body)
	}
	for range 2 { // parse, then polls: running, success
		e.jsonCall("POST", "/api/v2/files/parse", map[string]any{"file_id": doc["file_id"]}, 200)
		e.jsonCall("POST", "/api/v2/files/parse/status", map[string]any{"file_id_list": []any{doc["file_id"]}}, 200)
	}
	img := e.grant("cat.png")
	if st, body := e.put(img, v4Headers(img)); st != 200 {
		t.Fatal(st, body)
	}
	files := []map[string]any{
		{"type": "file", "id": doc["file_id"], "file_class": "document"},
		{"type": "image", "id": img["file_id"], "file_class": "vision"},
	}
	for _, tc := range []struct{ echo, want string }{
		{"doc", "[file history.txt]\nabc\n[message]\nrest [[qwenfake echo=doc chunk=100]]"},
		{"docjson", `"[file history.txt]\nabc\n[message]\nrest [[qwenfake echo=docjson chunk=100]]"`},
	} {
		t.Run(tc.echo, func(t *testing.T) {
			e.fake.Reset()
			body := filesBody(e.newChat("qwen3.7-plus"), "rest [[qwenfake echo="+tc.echo+" chunk=100]]", files...)
			resp, res := e.complete(body)
			if resp.StatusCode != 200 || res.answer != tc.want {
				t.Fatalf("status %d, answer %q, want %q", resp.StatusCode, res.answer, tc.want)
			}
			raw, _ := json.Marshal(body)
			if got := e.fake.Stats().MaxCompletionBody; got != int64(len(raw)) {
				t.Fatalf("MaxCompletionBody %d, body was %d bytes", got, len(raw))
			}
		})
	}
	if d, _ := ParseDirective("[[qwenfake echo=docs]]"); len(d.Invalid) != 1 || strings.Contains(d.Echo, "doc") {
		t.Fatalf("a misspelt echo was accepted: %+v", d)
	}
}

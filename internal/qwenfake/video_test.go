package qwenfake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVideoTasks(t *testing.T) {
	tests := []struct {
		name     string
		polls    int
		prompt   string
		wantLast string
	}{
		{"success after one running poll", 0, "a cat", "success"},
		{"success after three running polls", 3, "a dog", "success"},
		{"failure on request", 2, "a cow " + VideoFailMarker, "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, Options{VideoPolls: tc.polls})
			running := max(tc.polls, 1)
			id := e.newChat("qwen3.7-plus")
			b := simpleBody(id, "qwen3.7-plus", tc.prompt, false, "")
			b["stream"], b["chat_type"] = false, "t2v"
			v := e.jsonCall("POST", "/api/v2/chat/completions?chat_id="+id, b, 200)
			task := v["data"].(map[string]any)["messages"].([]any)[0].(map[string]any)["extra"].(map[string]any)["wanx"].(map[string]any)["task_id"].(string)
			// Another user polling the task finds nothing.
			other := e.fake.MintToken("user-2", time.Hour)
			if p := e.jsonCall("GET", "/api/v1/tasks/status/"+task, nil, 200, "Authorization", "Bearer "+other); p["task_status"] != "failed" {
				t.Fatalf("other user's poll: %v", p)
			}
			file := "/qwenfake/t2v/" + task + ".mp4?key=qwenfake"
			for i := range running {
				p := e.jsonCall("GET", "/api/v1/tasks/status/"+task, nil, 200)
				if p["task_status"] != "running" || int(p["progress"].(float64)) != i*100/running {
					t.Fatalf("poll %d: %v", i, p)
				}
				if resp := e.do(context.Background(), "GET", file, nil); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("file before success: %d", resp.StatusCode)
				} else {
					resp.Body.Close()
				}
			}
			p := e.jsonCall("GET", "/api/v1/tasks/status/"+task, nil, 200)
			if p["task_status"] != tc.wantLast {
				t.Fatalf("last poll: %v", p)
			}
			resp := e.do(context.Background(), "GET", file, nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.wantLast == "failed" {
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("file of a failed task: %d", resp.StatusCode)
				}
				return
			}
			if !strings.HasSuffix(p["content"].(string), file) || resp.StatusCode != 200 ||
				resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body, VideoFile(task)) {
				t.Fatalf("content %v: %d %q", p["content"], resp.StatusCode, body[:min(len(body), 32)])
			}
		})
	}
}

func TestVideoQuota(t *testing.T) {
	e := start(t, Options{})
	id := e.newChat("qwen3.7-plus")
	b := simpleBody(id, "qwen3.7-plus", "a cat [[qwenfake fail=quota]]", false, "")
	b["stream"], b["chat_type"] = false, "t2v"
	v := e.jsonCall("POST", "/api/v2/chat/completions?chat_id="+id, b, 200)
	if v["success"] != false || v["data"].(map[string]any)["code"] != "RateLimited" {
		t.Fatalf("quota: %v", v)
	}
}

func TestVideoFileShape(t *testing.T) {
	f := VideoFile("abc")
	if string(f[4:8]) != "ftyp" || string(f[28:32]) != "mdat" || len(f) < 4096 {
		t.Fatalf("file %q", f[:32])
	}
}

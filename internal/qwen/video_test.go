package qwen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// TestVideoAgainstEmulator: submit, poll to the end, fetch the file; the
// emulator's tasks belong to the user who submitted them.
func TestVideoAgainstEmulator(t *testing.T) {
	tests := []struct {
		name, prompt, want string
	}{
		{"success", "a cat", TaskSuccess},
		{"failure", "a cat " + qwenfake.VideoFailMarker, TaskFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, client, cred := emulator(t, qwenfake.Options{VideoPolls: 2})
			c := client(nil)
			ctx := context.Background()
			task, err := c.SubmitVideo(ctx, cred, "qwen3.7-plus", tc.prompt, "16:9")
			if err != nil {
				t.Fatal(err)
			}
			other := upstream.Credential{ID: "u2", Token: fake.MintToken("u2", time.Hour)}
			if st, err := c.VideoStatus(ctx, other, task); err != nil || st.Status != TaskFailed {
				t.Fatalf("another user's poll: %+v, %v", st, err)
			}
			for i := range 2 {
				st, err := c.VideoStatus(ctx, cred, task)
				if err != nil || st.Status != "running" || st.Progress != i*50 {
					t.Fatalf("poll %d: %+v, %v", i, st, err)
				}
			}
			st, err := c.VideoStatus(ctx, cred, task)
			if err != nil || st.Status != tc.want {
				t.Fatalf("last poll: %+v, %v", st, err)
			}
			if tc.want != TaskSuccess {
				if st.Message == "" || st.URL != "" {
					t.Fatalf("failed task: %+v", st)
				}
				return
			}
			resp, err := c.OpenVideo(ctx, upstream.Credential{}, st.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(b, qwenfake.VideoFile(task)) {
				t.Fatalf("file %q", b[:min(len(b), 32)])
			}
		})
	}
}

// TestSubmitVideoBody checks the t2v completion body (§6.5) and the
// reading of odd answers.
func TestSubmitVideoBody(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		wantTask string
		wantKind upstream.Kind
	}{
		{"task id", `{"success":true,"data":{"messages":[{"extra":{"wanx":{"task_id":"t-1"}}}]}}`, "t-1", 0},
		{"no task id", `{"success":true,"data":{"messages":[{"content":""}]}}`, "", upstream.KindBadResponse},
		{"quota", `{"success":false,"data":{"code":"RateLimited","details":"limit","num":3}}`, "", upstream.KindQuota},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, serveBody(200, "application/json", tc.answer))
			c := f.client(t, nil)
			task, err := c.SubmitVideo(context.Background(), upstream.Credential{ID: "a", Token: "tok"}, "m", "a cat", "9:16")
			if task != tc.wantTask || upstream.KindOf(err) != tc.wantKind && tc.wantKind != 0 || (tc.wantKind == 0) != (err == nil) {
				t.Fatalf("task %q err %v", task, err)
			}
			if nc, _ := f.last("/api/v2/chats/new"); !strings.Contains(string(nc.Body), `"chat_type":"t2v"`) {
				t.Fatalf("chats/new body %s", nc.Body)
			}
			r, _ := f.last("/api/v2/chat/completions")
			var body struct {
				Stream   *bool  `json:"stream"`
				ChatType string `json:"chat_type"`
				Size     string `json:"size"`
				Messages []struct {
					Content  string `json:"content"`
					ChatType string `json:"chat_type"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil || body.Stream == nil || *body.Stream ||
				body.ChatType != "t2v" || body.Size != "9:16" || len(body.Messages) != 1 ||
				body.Messages[0].Content != "a cat" || body.Messages[0].ChatType != "t2v" {
				t.Fatalf("completion body %s", r.Body)
			}
		})
	}
}

func TestVideoStatusAnswers(t *testing.T) {
	tests := []struct {
		name, answer string
		want         VideoTask
		wantErr      bool
	}{
		{"running", `{"task_status":"running","progress":40}`, VideoTask{Status: "running", Progress: 40}, false},
		{"enveloped", `{"success":true,"data":{"task_status":"success","content":"https://cdn.example/a.mp4"}}`,
			VideoTask{Status: TaskSuccess, URL: "https://cdn.example/a.mp4"}, false},
		{"success without url", `{"task_status":"success","content":""}`, VideoTask{}, true},
		{"success with a bad url", `{"task_status":"success","content":"file:///etc/passwd"}`, VideoTask{}, true},
		{"no status", `{"foo":1}`, VideoTask{}, true},
		{"progress clamped", `{"task_status":"pending","progress":250}`, VideoTask{Status: "pending", Progress: 100}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, nil)
			f.other = serveBody(http.StatusOK, "application/json", tc.answer)
			got, err := f.client(t, nil).VideoStatus(context.Background(), upstream.Credential{ID: "a", Token: "tok"}, "t-1")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
			if r, ok := f.last("/api/v1/tasks/status/t-1"); !ok || r.Method != http.MethodGet {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

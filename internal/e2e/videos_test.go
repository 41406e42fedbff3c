package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// fastVideos polls upstream tasks every few milliseconds.
func fastVideos(c *config.Config) { c.VideoPollInterval = 2 * time.Millisecond }

// slowVideos never polls within a test (a job stays in progress).
func slowVideos(c *config.Config) { c.VideoPollInterval = time.Hour }

// waitVideo polls GET /v1/videos/{id} until the job is final (bounded by
// attempts, not by time).
func waitVideo(t *testing.T, client openai.Client, id string) *openai.Video {
	t.Helper()
	for range 5000 {
		v, err := client.Videos.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status == openai.VideoStatusCompleted || v.Status == openai.VideoStatusFailed {
			return v
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("video %s never finished", id)
	return nil
}

func apiError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != status || ae.Code != code {
		t.Fatalf("err = %v, want HTTP %d code %q", err, status, code)
	}
}

// TestVideos: create with the SDK (multipart), poll to completed, download
// the mp4; two accounts, and the emulator answers a poll by another
// account than the submitter with "failed", so success proves the pinning.
func TestVideos(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}, emu: qwenfake.Options{VideoPolls: 3}, cfg: fastVideos})
	ctx := context.Background()
	for i := range 4 {
		v, err := e.client.Videos.New(ctx, openai.VideoNewParams{Prompt: "a cat on a skateboard",
			Seconds: openai.VideoSeconds8, Size: openai.VideoSize1280x720})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v.ID, "video_") || v.Status != openai.VideoStatusQueued || v.Model != "qwen3.7-plus" ||
			v.Prompt != "a cat on a skateboard" || v.Seconds != "8" || v.Size != "1280x720" || v.CreatedAt == 0 {
			t.Fatalf("create %d: %+v", i, v)
		}
		done := waitVideo(t, e.client, v.ID)
		if done.Status != openai.VideoStatusCompleted || done.Progress != 100 || done.CompletedAt == 0 {
			t.Fatalf("video %d: %s", i, done.RawJSON())
		}
		resp, err := e.client.Videos.DownloadContent(ctx, v.ID, openai.VideoDownloadContentParams{})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		job, err := e.relayApp.Store.GetVideo(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body, qwenfake.VideoFile(job.TaskID)) {
			t.Fatalf("content %d: %s %q", i, resp.Header.Get("Content-Type"), body[:min(len(body), 40)])
		}
	}
}

func TestVideoFailedJob(t *testing.T) {
	e := start(t, setup{cfg: fastVideos})
	ctx := context.Background()
	v, err := e.client.Videos.New(ctx, openai.VideoNewParams{Prompt: "a cow " + qwenfake.VideoFailMarker})
	if err != nil {
		t.Fatal(err)
	}
	done := waitVideo(t, e.client, v.ID)
	if done.Status != openai.VideoStatusFailed || done.Error.Code != "video_generation_failed" ||
		!strings.Contains(done.Error.Message, "video generation failed") {
		t.Fatalf("failed job: %s", done.RawJSON())
	}
	_, err = e.client.Videos.DownloadContent(ctx, v.ID, openai.VideoDownloadContentParams{})
	apiError(t, err, http.StatusNotFound, "video_not_ready")
}

// TestVideoQuota: the only account is out of quota: the job fails with a
// clear error and the account cools down (the pool applied the outcome).
func TestVideoQuota(t *testing.T) {
	e := start(t, setup{cfg: fastVideos})
	e.emu.SetAccountFailure("alice", qwenfake.Failure{Mode: qwenfake.ModeQuota})
	v, err := e.client.Videos.New(context.Background(), openai.VideoNewParams{Prompt: "a dog"})
	if err != nil {
		t.Fatal(err)
	}
	done := waitVideo(t, e.client, v.ID)
	if done.Status != openai.VideoStatusFailed || done.Error.Code != "upstream_unavailable" ||
		!strings.Contains(done.Error.Message, "quota") {
		t.Fatalf("quota job: %s", done.RawJSON())
	}
	for name, a := range e.accounts() {
		if a.State != "cooling" {
			t.Errorf("account %s is %s after a quota answer, want cooling", name, a.State)
		}
	}
}

func TestVideoRequests(t *testing.T) {
	e := start(t, setup{cfg: slowVideos})
	v, err := e.client.Videos.New(context.Background(), openai.VideoNewParams{Prompt: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"content before completion", "GET", "/v1/videos/" + v.ID + "/content", "", 404, "video_not_ready"},
		{"thumbnail variant", "GET", "/v1/videos/" + v.ID + "/content?variant=thumbnail", "", 400, "unsupported_parameter"},
		{"unknown video", "GET", "/v1/videos/video_nope", "", 404, "not_found"},
		{"unknown video content", "GET", "/v1/videos/video_nope/content", "", 404, "not_found"},
		{"missing prompt", "POST", "/v1/videos", `{"model":"qwen3.7-plus"}`, 400, "missing_required_parameter"},
		{"blank prompt", "POST", "/v1/videos", `{"prompt":"   "}`, 400, "missing_required_parameter"},
		{"not JSON", "POST", "/v1/videos", `{"prompt":`, 400, "invalid_body"},
		{"prompt not a string", "POST", "/v1/videos", `{"prompt":5}`, 400, "invalid_type"},
		{"bad size", "POST", "/v1/videos", `{"prompt":"x","size":"big"}`, 400, "invalid_value"},
		{"bad seconds", "POST", "/v1/videos", `{"prompt":"x","seconds":"0"}`, 400, "invalid_value"},
		{"input reference", "POST", "/v1/videos", `{"prompt":"x","input_reference":"abc"}`, 400, "unsupported_parameter"},
		{"unknown model", "POST", "/v1/videos", `{"prompt":"x","model":"nope"}`, 404, "model_not_found"},
		{"model without t2v", "POST", "/v1/videos", `{"prompt":"x","model":"qwen3-coder-plus"}`, 400, "model_not_supported"},
		{"no key", "GET", "/v1/videos/" + v.ID, "", 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization", "Bearer " + apiKey}
			if tc.status == 401 {
				hdr = []string{"Authorization", ""}
			}
			status, body := e.call(t, tc.method, tc.path, tc.body, hdr...)
			var eb struct {
				Error struct {
					Code *string `json:"code"`
				} `json:"error"`
			}
			if status != tc.status || json.Unmarshal([]byte(body), &eb) != nil {
				t.Fatalf("%d %s", status, body)
			}
			if tc.code != "" && (eb.Error.Code == nil || *eb.Error.Code != tc.code) {
				t.Fatalf("code in %s, want %s", body, tc.code)
			}
		})
	}
	t.Run("sora model name means the default", func(t *testing.T) {
		status, body := e.call(t, "POST", "/v1/videos", `{"prompt":"x","model":"sora-2","size":"720x1280"}`,
			"Authorization", "Bearer "+apiKey)
		if status != 200 || !strings.Contains(body, `"model":"qwen3.7-plus"`) || !strings.Contains(body, `"status":"queued"`) {
			t.Fatalf("%d %s", status, body)
		}
	})
}

// TestVideoResumeAfterRestart: a job in progress when the relay stops is
// picked up by the next relay on the same data directory, and polled with
// the account that submitted it.
func TestVideoResumeAfterRestart(t *testing.T) {
	e := start(t, setup{users: []string{"alice", "bob"}, cfg: slowVideos})
	ctx := context.Background()
	v, err := e.client.Videos.New(ctx, openai.VideoNewParams{Prompt: "a slow river"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // wait for the submission (not for a poll: those are an hour apart)
		if job, _ := e.relayApp.Store.GetVideo(ctx, v.ID); job != nil && job.TaskID != "" {
			break
		}
		if i > 5000 {
			t.Fatal("never submitted")
		}
		time.Sleep(time.Millisecond)
	}
	if err := e.closeApp(); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.QwenTokens = nil // the accounts are in the store already
	fastVideos(&cfg)
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	bg, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); a.Run(bg) }()
	srv := httptest.NewServer(a.Handler)
	defer func() {
		srv.CloseClientConnections()
		srv.Close()
		stop()
		<-ran
		if err := a.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(apiKey),
		option.WithMaxRetries(0), option.WithHTTPClient(e.httpc))
	done := waitVideo(t, client, v.ID)
	if done.Status != openai.VideoStatusCompleted {
		t.Fatalf("after restart: %s", done.RawJSON())
	}
}

// TestVideoContentLimit: a video larger than video_max_bytes is cut with a
// broken transfer, never served short as if whole.
func TestVideoContentLimit(t *testing.T) {
	e := start(t, setup{cfg: func(c *config.Config) { fastVideos(c); c.VideoMaxBytes = 1000 }})
	v, err := e.client.Videos.New(context.Background(), openai.VideoNewParams{Prompt: "a big cat"})
	if err != nil {
		t.Fatal(err)
	}
	if done := waitVideo(t, e.client, v.ID); done.Status != openai.VideoStatusCompleted {
		t.Fatalf("job: %s", done.RawJSON())
	}
	req, _ := http.NewRequest(http.MethodGet, e.relay.URL+"/v1/videos/"+v.ID+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := e.httpc.Do(req)
	if err != nil {
		return // broken before the headers arrived (they were still buffered)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil || len(body) > 1000 {
		t.Fatalf("read %d bytes, err %v: want a broken transfer of at most 1000 bytes", len(body), err)
	}
}

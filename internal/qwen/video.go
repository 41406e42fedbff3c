package qwen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Upstream task states of GET /api/v1/tasks/status/{id}
// (docs/qwen-protocol.md §6.5): "success" with an mp4 URL, "failed", and
// pending/running before either.
const (
	TaskSuccess = "success"
	TaskFailed  = "failed"
)

// VideoTask is one poll's view of an upstream t2v task.
type VideoTask struct {
	Status   string // as the upstream says it (success, failed, running, pending…)
	URL      string // the mp4, when Status is success
	Progress int    // 0–100 when the upstream reports one, else 0
	Message  string // the upstream's reason, when failed
}

// videoBody is the t2v completion: the browser body with stream:false and
// chat_type t2v everywhere, plus the aspect ratio as t2i takes it
// (docs/qwen-protocol.md §6.5; size: an assumption, see there).
type videoBody struct {
	browserBody
	ChatType string `json:"chat_type"`
	Size     string `json:"size,omitempty"`
}

// SubmitVideo creates a chat and starts a t2v task on it with cred, and
// returns the upstream task id (docs/qwen-protocol.md §6.5). ratio is an
// aspect ratio ("16:9"…) or "".
func (c *Client) SubmitVideo(ctx context.Context, cred upstream.Credential, model, prompt, ratio string) (string, error) {
	if model == "" || strings.TrimSpace(prompt) == "" {
		return "", &upstream.Error{Kind: upstream.KindBadRequest, Message: "a video needs a model and a prompt"}
	}
	chatID, err := c.newChatOfType(ctx, cred, model, "t2v")
	if err != nil {
		return "", err
	}
	now := c.now()
	m := browserMessage{
		FID: newUUID(), ChildrenIDs: []string{newUUID()}, Role: "user", Content: prompt,
		UserAction: "chat", Files: []fileEntry{}, Timestamp: now.Unix(), Models: []string{model},
		ChatType: "t2v", SubChatType: "t2v",
		FeatureConfig: featureConfig{OutputSchema: "phase", ThinkingMode: "Fast", ResearchMode: "normal"},
	}
	m.Extra.Meta.SubChatType = "t2v"
	body, err := c.encodeBody(&videoBody{browserBody: browserBody{
		Stream: false, Version: "2.1", ChatID: chatID, ChatMode: "normal", Model: model,
		Timestamp: now.Unix(), noTools: toolsOff, Messages: []browserMessage{m},
	}, ChatType: "t2v", Size: ratio})
	if err != nil {
		return "", err
	}
	path := "/api/v2/chat/completions?chat_id=" + url.QueryEscape(chatID)
	answer, err := c.jsonCall(ctx, cred, http.MethodPost, path, "/c/"+url.PathEscape(chatID), body)
	if err != nil {
		return "", redact(err, cred.Token)
	}
	// R reads data.messages[0].extra.wanx.task_id (docs/qwen-protocol.md §6.5).
	id := firstString(gjson.GetBytes(answer, "data.messages.0.extra.wanx.task_id"),
		gjson.GetBytes(answer, "data.task_id"), gjson.GetBytes(answer, "task_id"))
	if id == "" {
		return "", &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
			Message: "the video request was answered without a task id (the account may lack video access)"}
	}
	return id, nil
}

// VideoStatus polls the t2v task id with cred, which must be the credential
// of the account that submitted it (docs/qwen-protocol.md §6.5).
func (c *Client) VideoStatus(ctx context.Context, cred upstream.Credential, taskID string) (VideoTask, error) {
	if taskID == "" {
		return VideoTask{}, &upstream.Error{Kind: upstream.KindBadRequest, Message: "empty task id"}
	}
	answer, err := c.jsonCall(ctx, cred, http.MethodGet, "/api/v1/tasks/status/"+url.PathEscape(taskID), "/", nil)
	if err != nil {
		return VideoTask{}, redact(err, cred.Token)
	}
	r := gjson.ParseBytes(answer)
	if d := r.Get("data"); d.IsObject() && !r.Get("task_status").Exists() {
		r = d // tolerate a {success,data} envelope
	}
	t := VideoTask{Status: strings.ToLower(r.Get("task_status").String()), Progress: int(r.Get("progress").Int()),
		Message: firstString(r.Get("message"), r.Get("error"), r.Get("details"))}
	if t.Status == "" {
		return VideoTask{}, &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
			Message: "the task status answer has no task_status"}
	}
	if t.Status == TaskSuccess {
		t.URL = r.Get("content").String()
		if u, perr := url.Parse(t.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return VideoTask{}, &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
				Message: "the finished task names no usable video URL"}
		}
	}
	t.Progress = min(max(t.Progress, 0), 100)
	return t, nil
}

// OpenVideo fetches a finished video from the URL VideoStatus returned,
// through cred's transport (its proxy), without the Qwen token: the URL is
// a signed CDN link. The caller closes the body and bounds its size.
func (c *Client) OpenVideo(ctx context.Context, cred upstream.Credential, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &upstream.Error{Kind: upstream.KindBadResponse, Message: "the video URL is invalid", Err: err}
	}
	hc := c.opts.HTTPClient
	if cred.HTTPClient != nil {
		hc = cred.HTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, finishErr(ctx, ctx, "GET video", err)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		e := classifyStatus(resp.StatusCode, resp.Header, c.now())
		if e == nil {
			e = &upstream.Error{Kind: upstream.KindBadResponse, Status: resp.StatusCode}
		}
		e.Message = fmt.Sprintf("fetching the finished video: HTTP %d", resp.StatusCode)
		return nil, e
	}
	return resp, nil
}

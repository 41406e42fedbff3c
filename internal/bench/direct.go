package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

// directClient speaks the Qwen Chat v2 web protocol to the emulator:
// POST /api/v2/chats/new, then POST /api/v2/chat/completions?chat_id=…
// (body style (a) of the protocol notes, §3.2), reading incremental
// "answer" frames until the "finished" frame and the end of the body.
type directClient struct {
	http   *http.Client
	base   string   // http://host:port, no trailing slash
	tokens []string // Qwen JWTs sent as Bearer, in turn
	next   atomic.Uint64
}

var _ streamer = (*directClient)(nil)

func newDirectClient(base string, tokens []string, t http.RoundTripper) *directClient {
	return &directClient{http: &http.Client{Transport: t}, base: strings.TrimRight(base, "/"), tokens: tokens}
}

// token picks the next token, so load spreads like the relay's account pool.
func (c *directClient) token() string {
	return c.tokens[(c.next.Add(1)-1)%uint64(len(c.tokens))]
}

type newChatBody struct {
	Title     string   `json:"title"`
	Models    []string `json:"models"`
	ChatMode  string   `json:"chat_mode"`
	ChatType  string   `json:"chat_type"`
	Timestamp int64    `json:"timestamp"`
	ProjectID string   `json:"project_id"`
}

type featureConfig struct {
	OutputSchema    string `json:"output_schema"`
	ThinkingEnabled bool   `json:"thinking_enabled"`
	ThinkingBudget  int    `json:"thinking_budget"`
}

type qwenMessage struct {
	Role          string        `json:"role"`
	Content       string        `json:"content"`
	ChatType      string        `json:"chat_type"`
	Extra         struct{}      `json:"extra"`
	FeatureConfig featureConfig `json:"feature_config"`
}

type completionBody struct {
	Stream            bool          `json:"stream"`
	IncrementalOutput bool          `json:"incremental_output"`
	ChatType          string        `json:"chat_type"`
	Model             string        `json:"model"`
	SessionID         string        `json:"session_id"`
	ID                string        `json:"id"`
	SubChatType       string        `json:"sub_chat_type"`
	ChatMode          string        `json:"chat_mode"`
	ChatID            string        `json:"chat_id"`
	Messages          []qwenMessage `json:"messages"`
}

func (c *directClient) stream(ctx context.Context, prompt string, onFirst func()) (string, error) {
	token := c.token()
	chatID, err := c.newChat(ctx, token)
	if err != nil {
		return "", fmt.Errorf("chats/new: %w", err)
	}
	body, err := json.Marshal(completionBody{
		Stream: true, IncrementalOutput: true, ChatType: "t2t", Model: model,
		SessionID: newID(), ID: newID(), SubChatType: "t2t", ChatMode: "normal", ChatID: chatID,
		Messages: []qwenMessage{{
			Role: "user", Content: prompt, ChatType: "t2t",
			FeatureConfig: featureConfig{OutputSchema: "phase", ThinkingBudget: 81920},
		}},
	})
	if err != nil {
		return "", err
	}
	u := c.base + "/api/v2/chat/completions?chat_id=" + url.QueryEscape(chatID)
	return postStream(ctx, c.http, u, token, body, "completions", readQwenStream, onFirst)
}

func (c *directClient) newChat(ctx context.Context, token string) (string, error) {
	body, err := json.Marshal(newChatBody{
		Title: "New Chat", Models: []string{model}, ChatMode: "normal", ChatType: "t2t",
		Timestamp: time.Now().UnixMilli(),
	})
	if err != nil {
		return "", err
	}
	resp, err := post(ctx, c.http, c.base+"/api/v2/chats/new", token, body, "application/json")
	if err != nil {
		return "", err
	}
	defer finish(resp.Body)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if !gjson.GetBytes(raw, "success").Bool() {
		return "", fmt.Errorf("not successful: %.200s", raw)
	}
	id := gjson.GetBytes(raw, "data.id").String()
	if id == "" {
		return "", fmt.Errorf("no data.id: %.200s", raw)
	}
	return id, nil
}

// errCut is returned when a stream ends before its terminator.
var errCut = errors.New("stream cut before its end")

// readQwenStream reassembles the answer of a v2 stream. It reads to the end
// of the body (so the connection is reusable) and fails when no "finished"
// answer frame came, or on an in-stream error frame.
func readQwenStream(r io.Reader, onFirst func()) (string, error) {
	dec := sse.NewDecoder(r, 0)
	var sb strings.Builder
	finished := false
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sb.String(), fmt.Errorf("read: %w", err)
		}
		if len(ev.Data) == 0 || string(ev.Data) == "[DONE]" {
			continue
		}
		delta := gjson.GetBytes(ev.Data, "choices.0.delta")
		if !delta.Exists() {
			if e := gjson.GetBytes(ev.Data, "error"); e.Exists() {
				return sb.String(), fmt.Errorf("error frame: %.200s", e.Raw)
			}
			if s := gjson.GetBytes(ev.Data, "success"); s.Exists() && !s.Bool() {
				return sb.String(), fmt.Errorf("error frame: %.200s", ev.Data)
			}
			continue // response.created and other bookkeeping frames
		}
		if phase := delta.Get("phase").String(); phase != "answer" && phase != "" {
			continue // thinking and tool phases are not the answer
		}
		if content := delta.Get("content").String(); content != "" {
			if sb.Len() == 0 && onFirst != nil {
				onFirst()
			}
			sb.WriteString(content)
		}
		if delta.Get("status").String() == "finished" {
			finished = true
		}
	}
	if !finished {
		return sb.String(), errCut
	}
	return sb.String(), nil
}

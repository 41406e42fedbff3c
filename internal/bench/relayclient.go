package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/sse"
)

// relayClient speaks the OpenAI chat completions API (stream:true) to the
// relay, reassembling delta.content until the finish chunk and [DONE].
type relayClient struct {
	http *http.Client
	url  string // …/v1/chat/completions
	key  string // the relay's API key, sent as Bearer; may be empty
}

var _ streamer = (*relayClient)(nil)

func newRelayClient(base, key string, t http.RoundTripper) *relayClient {
	return &relayClient{
		http: &http.Client{Transport: t},
		url:  strings.TrimRight(base, "/") + "/v1/chat/completions",
		key:  key,
	}
}

type oaMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type oaRequest struct {
	Model    string      `json:"model"`
	Stream   bool        `json:"stream"`
	Messages []oaMessage `json:"messages"`
}

func (c *relayClient) stream(ctx context.Context, prompt string, onFirst func()) (string, error) {
	body, err := json.Marshal(oaRequest{
		Model: model, Stream: true,
		Messages: []oaMessage{{Role: "user", Content: prompt}},
	})
	if err != nil {
		return "", err
	}
	return postStream(ctx, c.http, c.url, c.key, body, "chat/completions", readOpenAIStream, onFirst)
}

// errorEvent is an OpenAI error event inside a stream.
type errorEvent struct {
	Code string // error.code, "" when absent
	Raw  string // the error object
}

func (e *errorEvent) Error() string { return fmt.Sprintf("error frame: %.200s", e.Raw) }

// errNoFinish is returned when [DONE] came without a finish_reason chunk.
var errNoFinish = errors.New("stream ended without a finish_reason")

// readOpenAIStream reassembles the content of an OpenAI chunk stream. It
// reads to the end of the body and fails on an error frame, on a stream
// without [DONE] (cut) and on one without a finish_reason.
func readOpenAIStream(r io.Reader, onFirst func()) (string, error) {
	var sb strings.Builder
	err := readChunks(r, func(choice gjson.Result) error {
		if content := choice.Get("delta.content").String(); content != "" {
			if sb.Len() == 0 && onFirst != nil {
				onFirst()
			}
			sb.WriteString(content)
		}
		return nil
	})
	return sb.String(), err
}

// readChunks reads an OpenAI chunk stream to its end and hands each
// chunk's first choice to onChoice. It fails on an error frame, on a
// stream without [DONE] (cut) and on one without a finish_reason.
func readChunks(r io.Reader, onChoice func(choice gjson.Result) error) error {
	dec := sse.NewDecoder(r, 0)
	done, finished := false, false
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if string(ev.Data) == "[DONE]" {
			done = true
			continue
		}
		choice := gjson.GetBytes(ev.Data, "choices.0")
		if !choice.Exists() {
			if e := gjson.GetBytes(ev.Data, "error"); e.Exists() {
				return &errorEvent{Code: e.Get("code").String(), Raw: e.Raw}
			}
			continue // e.g. a usage-only chunk
		}
		if err := onChoice(choice); err != nil {
			return err
		}
		if fr := choice.Get("finish_reason"); fr.Exists() && fr.Type != gjson.Null {
			finished = true
		}
	}
	switch {
	case !done:
		return errCut
	case !finished:
		return errNoFinish
	}
	return nil
}

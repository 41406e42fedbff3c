package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tidwall/gjson"
)

// errNotCompletion is returned when a 200 answer to a non-streamed request
// is not a chat completion object.
var errNotCompletion = errors.New("answer is not a chat completion")

// maxCompletionBytes bounds a non-streamed answer read by the bench.
const maxCompletionBytes = 8 << 20

// chat sends one chat request, streamed or not, and returns the answer
// text. Failures are typed: *statusError (HTTP status other than 200),
// *errorEvent (an error event in a stream), errCut, errNoFinish,
// errNotCompletion; anything else is a transport failure.
func (c *relayClient) chat(ctx context.Context, prompt string, stream bool) (string, error) {
	if stream {
		return c.stream(ctx, prompt, nil)
	}
	return c.complete(ctx, prompt)
}

// complete sends a non-streamed request and returns message.content.
func (c *relayClient) complete(ctx context.Context, prompt string) (string, error) {
	body, err := json.Marshal(oaRequest{
		Model: model, Stream: false,
		Messages: []oaMessage{{Role: "user", Content: prompt}},
	})
	if err != nil {
		return "", err
	}
	resp, err := post(ctx, c.http, c.url, c.key, body, "application/json")
	if err != nil {
		return "", fmt.Errorf("chat/completions: %w", err)
	}
	defer finish(resp.Body)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxCompletionBytes))
	if err != nil {
		return "", fmt.Errorf("chat/completions: read: %w", err)
	}
	text, err := parseCompletion(raw)
	if err != nil {
		return text, fmt.Errorf("chat/completions: %w", err)
	}
	return text, nil
}

// parseCompletion returns choices[0].message.content of a chat completion;
// it fails on an error object, on anything that is not a completion, and
// on a completion without finish_reason.
func parseCompletion(raw []byte) (string, error) {
	if !gjson.ValidBytes(raw) {
		return "", fmt.Errorf("%w: %.200s", errNotCompletion, raw)
	}
	if e := gjson.GetBytes(raw, "error"); e.Exists() {
		return "", &errorEvent{Code: e.Get("code").String(), Raw: e.Raw}
	}
	choice := gjson.GetBytes(raw, "choices.0")
	if !choice.Exists() {
		return "", fmt.Errorf("%w: %.200s", errNotCompletion, raw)
	}
	text := choice.Get("message.content").String()
	if fr := choice.Get("finish_reason"); !fr.Exists() || fr.Type == gjson.Null {
		return text, errNoFinish
	}
	return text, nil
}

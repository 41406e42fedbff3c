package qwen

import (
	"context"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Model list endpoints: R and the web UI use /api/models ({"data":[…]}); G
// moved to /api/v2/models/ ({"success":true,"data":{"data":[…]}}) in
// 2026-06 (docs/qwen-protocol.md §1, §2.6). Both envelopes are accepted on both.
var modelPaths = []string{"/api/models", "/api/v2/models/"}

// ListModels returns the upstream's models. It tries /api/models first and
// falls back to /api/v2/models/ when the first is missing (404/405) or its
// answer has no model list.
func (c *Client) ListModels(ctx context.Context, cred upstream.Credential) ([]upstream.Model, error) {
	if cred.Token == "" {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "credential %q has no token", cred.ID)
	}
	var firstErr error
	for _, p := range modelPaths {
		body, err := c.jsonCall(ctx, cred, http.MethodGet, p, "/", nil)
		if err == nil {
			if models, ok := parseModels(body); ok {
				c.learnModels(models)
				return models, nil
			}
			err = &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
				Message: "the upstream model list has an unknown shape"}
		}
		err = redact(err, cred.Token)
		if !fallbackWorthy(err) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// fallbackWorthy: only a missing endpoint or an unknown shape makes the
// other endpoint worth a try; auth, WAF and the like would fail there too.
func fallbackWorthy(err error) bool {
	ue, ok := upstream.AsError(err)
	if !ok {
		return false
	}
	switch {
	case ue.Kind == upstream.KindBadResponse:
		return true
	case ue.Status == http.StatusNotFound || ue.Status == http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// parseModels reads either envelope; ok is false when there is no list.
func parseModels(body []byte) ([]upstream.Model, bool) {
	r := gjson.ParseBytes(body)
	list := r.Get("data")
	if list.IsObject() {
		list = list.Get("data")
	}
	if !list.IsArray() {
		return nil, false
	}
	var out []upstream.Model
	list.ForEach(func(_, v gjson.Result) bool {
		if m, ok := parseModel(v); ok {
			out = append(out, m)
		}
		return true
	})
	return out, true
}

func parseModel(v gjson.Result) (upstream.Model, bool) {
	info := v.Get("info")
	meta := info.Get("meta")
	m := upstream.Model{
		ID:         firstString(v.Get("id"), info.Get("id")),
		Name:       firstString(v.Get("name"), info.Get("name")),
		OwnedBy:    firstString(v.Get("owned_by")),
		Created:    firstInt(info.Get("created_at"), v.Get("created"), v.Get("created_at")),
		Thinking:   truthy(meta.Get("abilities.thinking")) || truthy(meta.Get("capabilities.thinking")),
		Vision:     truthy(meta.Get("capabilities.vision")) || truthy(meta.Get("abilities.vision")),
		MaxContext: int(meta.Get("max_context_length").Int()),
		// docs/qwen-protocol.md §6.2, §8: search is offered where the
		// model's chat types list it.
		Search: meta.Get("chat_type").IsArray() && contains(meta.Get("chat_type"), "search"),
		// docs/qwen-protocol.md §11.3: think_skip.enable false means thinking
		// must be on, else the upstream answers invalid_input.
		ThinkingRequired: meta.Get("think_skip.enable").Type == gjson.False,
		// docs/qwen-protocol.md §6.3, §6.4: image chat types.
		ImageGen:  meta.Get("chat_type").IsArray() && contains(meta.Get("chat_type"), "t2i"),
		ImageEdit: meta.Get("chat_type").IsArray() && contains(meta.Get("chat_type"), "image_edit"),
		Video:     meta.Get("chat_type").IsArray() && contains(meta.Get("chat_type"), "t2v"),
	}
	if m.ID == "" {
		return m, false
	}
	if m.Name == "" {
		m.Name = m.ID
	}
	if m.OwnedBy == "" {
		m.OwnedBy = "qwen"
	}
	// A model whose chat types are listed but exclude text chat cannot serve
	// /v1/chat/completions (e.g. video-only models).
	if ct := meta.Get("chat_type"); ct.IsArray() && len(ct.Array()) > 0 && !contains(ct, "t2t") {
		return m, false
	}
	return m, true
}

// learnModels remembers which models need thinking on (§11.3), from the
// latest list: OpenChat reads it for every request.
func (c *Client) learnModels(models []upstream.Model) {
	need := make(map[string]bool)
	for _, m := range models {
		if m.ThinkingRequired {
			need[m.ID] = true
		}
	}
	c.modelsMu.Lock()
	c.thinkingRequired = need
	c.modelsMu.Unlock()
}

// needsThinking reports whether the last model list said model cannot
// answer with thinking off.
func (c *Client) needsThinking(model string) bool {
	c.modelsMu.RLock()
	defer c.modelsMu.RUnlock()
	return c.thinkingRequired[model]
}

func firstString(rs ...gjson.Result) string {
	for _, r := range rs {
		if r.Type == gjson.String && r.Str != "" {
			return r.Str
		}
	}
	return ""
}

func firstInt(rs ...gjson.Result) int64 {
	for _, r := range rs {
		if r.Type == gjson.Number && r.Num > 0 {
			return r.Int()
		}
	}
	return 0
}

// truthy accepts true and non-zero numbers (abilities use 1/0).
func truthy(r gjson.Result) bool {
	switch r.Type {
	case gjson.True:
		return true
	case gjson.Number:
		return r.Num != 0
	}
	return false
}

func contains(arr gjson.Result, s string) bool {
	found := false
	arr.ForEach(func(_, v gjson.Result) bool {
		found = v.Str == s
		return !found
	})
	return found
}

package qwenfake

import (
	"encoding/json"
	"strings"
)

// completionRequest covers both v2 body styles (§3.2: simplified and browser
// envelope) and the era-1 body (§2.2, §2.4); unknown fields are ignored.
type completionRequest struct {
	Stream            *bool            `json:"stream"`
	IncrementalOutput bool             `json:"incremental_output"`
	Version           string           `json:"version"`
	ChatID            string           `json:"chat_id"`
	ChatType          string           `json:"chat_type"`
	Model             string           `json:"model"`
	ParentID          *string          `json:"parent_id"`
	Size              string           `json:"size"` // image chats (t2i.go)
	Messages          []requestMessage `json:"messages"`
}

type requestMessage struct {
	Role          string          `json:"role"`
	Content       json.RawMessage `json:"content"`
	FID           string          `json:"fid"`
	ChatType      string          `json:"chat_type"`
	Models        []string        `json:"models"`
	FeatureConfig featureConfig   `json:"feature_config"`
	Files         []requestFile   `json:"files"`
	Size          string          `json:"size"`
}

type featureConfig struct {
	ThinkingEnabled bool   `json:"thinking_enabled"`
	OutputSchema    string `json:"output_schema"`
	ThinkingFormat  string `json:"thinking_format"`
	AutoSearch      bool   `json:"auto_search"`
}

// text returns the message text: a JSON string, or the text parts of an
// OpenAI-style array of content parts.
func (m *requestMessage) text() string {
	raw := m.Content
	if len(raw) == 0 {
		return ""
	}
	var s string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || p.Type == "" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// model returns the requested model: top-level "model", else the browser
// envelope's messages[].models[0].
func (r *completionRequest) model() string {
	if r.Model != "" {
		return r.Model
	}
	if len(r.Messages) > 0 && len(r.Messages[0].Models) > 0 {
		return r.Messages[0].Models[0]
	}
	return ""
}

// chatType returns the chat type of the request (t2t by default).
func (r *completionRequest) chatType() string {
	if r.ChatType != "" {
		return r.ChatType
	}
	if n := len(r.Messages); n > 0 && r.Messages[n-1].ChatType != "" {
		return r.Messages[n-1].ChatType
	}
	return "t2t"
}

// last returns the last message (the one that carries feature_config and
// the directive), or nil.
func (r *completionRequest) last() *requestMessage {
	if len(r.Messages) == 0 {
		return nil
	}
	return &r.Messages[len(r.Messages)-1]
}

// inputTokens estimates input tokens: a hidden system prompt of about a
// thousand tokens (§3.3) plus one token per four bytes of text.
func inputTokens(text string) int { return 1000 + (len(text)+3)/4 }

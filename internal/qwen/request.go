package qwen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// featureConfig is the per-message feature_config (docs/qwen-protocol.md §3.2, §6.1).
type featureConfig struct {
	OutputSchema    string `json:"output_schema"`
	ThinkingEnabled bool   `json:"thinking_enabled"`
	AutoThinking    bool   `json:"auto_thinking"`
	ThinkingMode    string `json:"thinking_mode"`
	ThinkingFormat  string `json:"thinking_format,omitempty"`
	ThinkingBudget  int    `json:"thinking_budget,omitempty"`
	ResearchMode    string `json:"research_mode,omitempty"`
	AutoSearch      bool   `json:"auto_search"`
}

// noTools are the flags RS sends because enabling native tools makes the
// upstream answer "Tool X does not exists." (docs/qwen-protocol.md §3.2). They go at the top
// level of the body.
type noTools struct {
	FunctionCalling    bool   `json:"function_calling"`
	EnableTools        bool   `json:"enable_tools"`
	EnableFunctionCall bool   `json:"enable_function_call"`
	ToolChoice         string `json:"tool_choice"`
}

var toolsOff = noTools{ToolChoice: "none"}

// browserBody is the browser envelope (docs/qwen-protocol.md §3.2 b).
type browserBody struct {
	Stream            bool    `json:"stream"`
	Version           string  `json:"version"`
	IncrementalOutput bool    `json:"incremental_output"`
	ChatID            string  `json:"chat_id"`
	ChatMode          string  `json:"chat_mode"`
	Model             string  `json:"model"`
	ParentID          *string `json:"parent_id"`
	Timestamp         int64   `json:"timestamp"`
	Size              string  `json:"size,omitempty"` // image modes (§6.3)
	noTools
	Messages []browserMessage `json:"messages"`
}

type browserMessage struct {
	FID           string        `json:"fid"`
	ParentIDCamel *string       `json:"parentId"`
	ChildrenIDs   []string      `json:"childrenIds"`
	Role          string        `json:"role"`
	Content       string        `json:"content"`
	UserAction    string        `json:"user_action"`
	Files         []fileEntry   `json:"files"`
	Timestamp     int64         `json:"timestamp"`
	Models        []string      `json:"models"`
	ChatType      string        `json:"chat_type"`
	SubChatType   string        `json:"sub_chat_type"`
	ParentID      *string       `json:"parent_id"`
	Size          string        `json:"size,omitempty"` // image modes (§6.3)
	FeatureConfig featureConfig `json:"feature_config"`
	Extra         browserExtra  `json:"extra"`
}

type browserExtra struct {
	Meta struct {
		SubChatType string `json:"subChatType"`
	} `json:"meta"`
}

// simpleBody is the simplified body (docs/qwen-protocol.md §3.2 a).
type simpleBody struct {
	Stream            bool   `json:"stream"`
	IncrementalOutput bool   `json:"incremental_output"`
	ChatType          string `json:"chat_type"`
	Model             string `json:"model"`
	SessionID         string `json:"session_id"`
	ID                string `json:"id"`
	SubChatType       string `json:"sub_chat_type"`
	ChatMode          string `json:"chat_mode"`
	ChatID            string `json:"chat_id"`
	Size              string `json:"size,omitempty"` // image modes (§6.3)
	noTools
	Messages []simpleMessage `json:"messages"`
}

type simpleMessage struct {
	Role          string      `json:"role"`
	Content       string      `json:"content"`
	ChatType      string      `json:"chat_type"`
	Extra         struct{}    `json:"extra"`
	FeatureConfig any         `json:"feature_config,omitempty"`
	Files         []fileEntry `json:"files,omitempty"`
}

// legacyFeatures is the era-1 feature_config: thinking only (docs/qwen-protocol.md §2.2).
type legacyFeatures struct {
	ThinkingEnabled bool `json:"thinking_enabled"`
	ThinkingBudget  int  `json:"thinking_budget,omitempty"`
}

// legacyBody is the era-1 body (docs/qwen-protocol.md §2.2, §2.4).
type legacyBody struct {
	Model     string          `json:"model"`
	Messages  []simpleMessage `json:"messages"`
	Stream    bool            `json:"stream"`
	ChatType  string          `json:"chat_type"`
	ID        string          `json:"id"`
	MaxTokens int             `json:"max_tokens,omitempty"`
}

// newChatBody is the body of POST /api/v2/chats/new (docs/qwen-protocol.md §3.1).
type newChatBody struct {
	Title     string   `json:"title"`
	Models    []string `json:"models"`
	ChatMode  string   `json:"chat_mode"`
	ChatType  string   `json:"chat_type"`
	Timestamp int64    `json:"timestamp"` // milliseconds
	ProjectID string   `json:"project_id"`
}

// features maps the request's thinking choice to feature_config. A nil
// Thinking means "model default", which we send as thinking off (Fast): the
// relay asks for thinking explicitly for -thinking models, and an implicit
// Auto mode would make plain requests slow and unpredictable.
func (c *Client) features(req *upstream.ChatRequest) featureConfig {
	f := featureConfig{OutputSchema: "phase", ThinkingMode: "Fast", ResearchMode: "normal"}
	f.AutoSearch = req.Search && c.opts.SearchStyle == SearchAutoSearch
	if req.Thinking != nil && *req.Thinking && !req.Mode.Image() { // thinking is off for images (§6.1)
		f.ThinkingEnabled = true
		f.ThinkingMode = "Thinking"
		f.ThinkingFormat = c.opts.ThinkingFormat
	}
	f.ThinkingBudget = req.ThinkingBudget
	if f.ThinkingBudget <= 0 {
		f.ThinkingBudget = c.opts.DefaultThinkingBudget
	}
	return f
}

// chatType is the chat_type (and sub_chat_type) of a completion: "search"
// for a search request in the chat_type style, "t2t" otherwise
// (docs/qwen-protocol.md §6.2).
func (c *Client) chatType(req *upstream.ChatRequest) string {
	if req.Mode.Image() {
		return string(req.Mode) // t2i or image_edit (§6.3, §6.4)
	}
	if req.Search && c.opts.SearchStyle != SearchAutoSearch {
		return "search"
	}
	return "t2t"
}

// v2Body builds the completion body for chatID and refuses it when it is
// larger than MaxBodyBytes.
func (c *Client) v2Body(req *upstream.ChatRequest, content, chatID string, files ...fileEntry) ([]byte, error) {
	return c.encodeBody(c.v2Value(req, content, chatID, files))
}

// v2Value is the completion body for chatID before encoding.
func (c *Client) v2Value(req *upstream.ChatRequest, content, chatID string, files []fileEntry) any {
	if files == nil {
		files = []fileEntry{}
	}
	now := c.now()
	ct := c.chatType(req)
	var v any
	if c.opts.BodyStyle == BodySimple {
		f := c.features(req)
		v = &simpleBody{
			Stream: true, IncrementalOutput: true, ChatType: ct, Model: req.Model,
			SessionID: newUUID(), ID: newUUID(), SubChatType: ct, ChatMode: "normal",
			ChatID: chatID, Size: req.Size, noTools: toolsOff,
			Messages: []simpleMessage{{Role: "user", Content: content, ChatType: ct, FeatureConfig: &f, Files: files}},
		}
	} else {
		m := browserMessage{
			FID: newUUID(), ChildrenIDs: []string{newUUID()}, Role: "user", Content: content,
			UserAction: "chat", Files: files, Timestamp: now.Unix(), Models: []string{req.Model},
			ChatType: ct, SubChatType: ct, Size: req.Size, FeatureConfig: c.features(req),
		}
		m.Extra.Meta.SubChatType = ct
		v = &browserBody{
			Stream: true, Version: "2.1", IncrementalOutput: true, ChatID: chatID, ChatMode: "normal",
			Model: req.Model, Timestamp: now.Unix(), Size: req.Size, noTools: toolsOff, Messages: []browserMessage{m},
		}
	}
	return v
}

// legacyBody builds the era-1 body: the whole history, thinking on the last
// message (docs/qwen-protocol.md §2.2).
func (c *Client) legacyBody(req *upstream.ChatRequest) ([]byte, error) {
	msgs := make([]simpleMessage, len(req.Messages))
	for i, m := range req.Messages {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		msgs[i] = simpleMessage{Role: role, Content: m.Content, ChatType: c.chatType(req)}
	}
	f := c.features(req)
	msgs[len(msgs)-1].FeatureConfig = &legacyFeatures{ThinkingEnabled: f.ThinkingEnabled, ThinkingBudget: f.ThinkingBudget}
	return c.encodeBody(&legacyBody{
		Model: req.Model, Messages: msgs, Stream: true, ChatType: c.chatType(req), ID: newUUID(), MaxTokens: req.MaxTokens,
	})
}

func (c *Client) encodeBody(v any) ([]byte, error) {
	b, err := marshalBody(v)
	if err != nil {
		return nil, err
	}
	if len(b) > c.opts.MaxBodyBytes {
		return nil, &upstream.Error{
			Kind: upstream.KindTooLarge,
			Message: fmt.Sprintf("the request is %d bytes, above the upstream limit of %d bytes: the conversation must be shortened",
				len(b), c.opts.MaxBodyBytes),
		}
	}
	return b, nil
}

// marshalBody encodes a body the way it is sent, without the size check.
func marshalBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // browsers do not escape <, > and &; escaping would inflate the size
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("qwen: encode body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// flatten turns the conversation into the one message v2 accepts (docs/qwen-protocol.md §6.9):
// a single user message is sent as is; otherwise system messages come
// first, then every turn as "role: text", separated by blank lines.
func flatten(msgs []upstream.Message) string {
	if len(msgs) == 1 && (msgs[0].Role == "user" || msgs[0].Role == "") {
		return msgs[0].Content
	}
	n := 0
	for _, m := range msgs {
		n += len(m.Role) + len(m.Content) + 4
	}
	var b strings.Builder
	b.Grow(n)
	write := func(m upstream.Message) {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		role := m.Role
		if role == "" {
			role = "user"
		}
		b.WriteString(role)
		b.WriteString(": ")
		b.WriteString(m.Content)
	}
	for _, m := range msgs {
		if isSystem(m.Role) {
			write(upstream.Message{Role: "system", Content: m.Content})
		}
	}
	for _, m := range msgs {
		if !isSystem(m.Role) {
			write(m)
		}
	}
	return b.String()
}

func isSystem(role string) bool { return role == "system" || role == "developer" }

package qwenfake

import "time"

// Options configure the emulator. The zero value is a working default.
type Options struct {
	Secret             []byte        // HS256 key for JWTs; nil => a fixed built-in test key
	Models             []Model       // nil => DefaultModels()
	DefaultTokens      int           // answer pieces without directive; default 16
	DefaultThinkTokens int           // reasoning pieces when thinking is on; default 8
	FrameDelay         time.Duration // delay between frames; default 0
	SendDone           bool          // append "data: [DONE]\n\n" (the real upstream does not)
	SplitWrites        int           // >0: write every frame in pieces of at most N bytes, flushing each
	RequireHeaders     []string      // headers required on /api/v2/ chat calls; missing => WAF page
	MaxBodyBytes       int           // default 128*1024; a larger completion body gets the captcha JSON
	Gzip               bool          // gzip bodies when the request has Accept-Encoding: gzip
	// ChatDelay is how long chats/new takes to answer (the real service:
	// 0.3–6 s, docs/qwen-protocol.md §11.9); default 0.
	ChatDelay time.Duration
	// ChatExpiry: a chat that has had no completion this long after its
	// creation is gone (Not_Found, like an unknown id); 0 never expires.
	ChatExpiry time.Duration
	Now        func() time.Time
	// VideoPolls is how many polls of a t2v task answer "running" before
	// it succeeds (or fails, on request); default 1 (video.go).
	VideoPolls int
}

// Model is one entry of the model listing.
type Model struct {
	ID, Name string
	Thinking bool // supports thinking (info.meta.abilities.thinking)
	// ThinkingRequired lists the model with info.meta.think_skip.enable
	// false: a completion with thinking off is answered invalid_input
	// (docs/qwen-protocol.md §11.3).
	ThinkingRequired bool
	Vision           bool     // info.meta.capabilities.vision
	ChatTypes        []string // info.meta.chat_type
	MaxContext       int      // info.meta.max_context_length
}

// DefaultTestSecret is the HS256 key used when Options.Secret is nil.
const DefaultTestSecret = "qwenfake-test-secret-not-for-production"

const (
	defaultTokens      = 16
	defaultThinkTokens = 8
	defaultMaxBody     = 128 * 1024
)

var allChatTypes = []string{"t2t", "t2v", "t2i", "image_edit", "search", "artifacts", "web_dev", "deep_research", "travel"}

// DefaultModels is the listing used when Options.Models is nil.
func DefaultModels() []Model {
	return []Model{
		{ID: "qwen3.7-plus", Name: "Qwen3.7-Plus", Thinking: true, Vision: true,
			ChatTypes: append([]string(nil), allChatTypes...), MaxContext: 1000000},
		{ID: "qwen3.7-max", Name: "Qwen3.7-Max", Thinking: true, Vision: true,
			ChatTypes: append([]string(nil), allChatTypes...), MaxContext: 262144},
		{ID: "qwen3-coder-plus", Name: "Qwen3-Coder", Thinking: false, Vision: false,
			ChatTypes: []string{"t2t", "search", "artifacts", "web_dev"}, MaxContext: 1048576},
		{ID: "qwq-32b", Name: "QwQ-32B", Thinking: true, Vision: false,
			ChatTypes: []string{"t2t", "search"}, MaxContext: 131072},
		{ID: "qwen3.8-max-preview", Name: "Qwen3.8-Max-Preview", Thinking: true, ThinkingRequired: true, Vision: true,
			ChatTypes: []string{"t2t", "search"}, MaxContext: 262144},
	}
}

func (o Options) withDefaults() Options {
	if o.Secret == nil {
		o.Secret = []byte(DefaultTestSecret)
	}
	if o.Models == nil {
		o.Models = DefaultModels()
	}
	if o.DefaultTokens <= 0 {
		o.DefaultTokens = defaultTokens
	}
	if o.DefaultThinkTokens <= 0 {
		o.DefaultThinkTokens = defaultThinkTokens
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBody
	}
	if o.VideoPolls <= 0 {
		o.VideoPolls = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

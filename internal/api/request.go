package api

import "github.com/qwenrelay/qwenrelay/internal/toolcall"

// Request is a client request in neutral form, as a Codec decoded it.
type Request struct {
	// Model is the model the client named (echoed back in answers); the
	// server resolves it (aliases, variants) to an upstream model.
	Model  string
	Stream bool
	// IncludeUsage asks for usage in a streamed answer where the surface
	// makes it optional (OpenAI stream_options.include_usage).
	IncludeUsage bool
	Messages     []Message

	// Thinking: nil leaves it to the model suffix or the upstream default.
	Thinking       *bool
	ThinkingBudget int // > 0: a reasoning budget (tokens)
	MaxTokens      int // > 0: the client's cap on the answer (passed on where possible)
	// Search asks for the upstream's web search mode (OpenAI
	// web_search_options, a Responses web search tool, an Anthropic
	// web_search server tool); the model's -search variant asks too.
	Search bool

	// Tools the client declared, its tool_choice and whether several calls
	// may come in one answer.
	Tools      []toolcall.Tool
	ToolChoice toolcall.Choice
	// Parallel: several tool calls may come back in one answer.
	Parallel bool

	// Extra carries codec-specific state the codec needs again when it
	// encodes the answer (e.g. Responses' instructions, store flag and
	// previous response); the server never reads it.
	Extra any
}

// Message is one turn of the conversation.
type Message struct {
	Role string // system, user, assistant, tool
	Text string
	// Media are the images and files attached to the turn, unresolved.
	Media []Media
	// Reasoning is an earlier answer's reasoning, as some clients replay it
	// (Anthropic thinking blocks); it is not sent upstream.
	Reasoning string
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []toolcall.Call
	// ToolCallID and ToolName identify the call a tool turn answers.
	ToolCallID string
	ToolName   string
}

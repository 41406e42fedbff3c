// Package anthropic is the Anthropic Messages API surface (POST /v1/messages
// and /v1/messages/count_tokens) as an api.Codec: it decodes a Messages
// request into the neutral api.Request and renders neutral events, answers
// and problems in Anthropic's wire format. No I/O happens here.
//
// # Requests
//
// model, max_tokens (required, as Anthropic requires it), system (a string
// or text blocks), messages (a string or blocks), stream, tools,
// tool_choice and thinking are read; stop_sequences, temperature, top_p,
// top_k, metadata, cache_control and any unknown field are accepted and
// ignored. Message blocks:
//   - text: the message text (several blocks joined by "\n").
//   - image, document (user turns): base64, url and (documents) text
//     sources become api.Media, which the server fetches or decodes and
//     uploads; file_id sources are refused with 400, and so are media in
//     an assistant turn. Inside a tool_result one becomes a placeholder
//     text, so a history holding a screenshot a tool returned stays usable.
//   - tool_use (assistant): a call; its input object becomes the call's
//     arguments JSON text.
//   - tool_result (user): a Message{Role: "tool"} per result, in block
//     order, before the turn's remaining text; is_error puts "[tool error]"
//     before the result text.
//   - thinking, redacted_thinking (assistant history, replayed by Claude
//     Code): thinking text is kept as Message.Reasoning (never sent
//     upstream); redacted data is dropped; neither ever fails a request.
//   - server_tool_use, mcp_tool_use and *_tool_result blocks in an
//     assistant turn (left by server tools in a conversation begun against
//     Anthropic) are dropped.
//
// A system text block that starts with "x-anthropic-billing-header:" (Claude
// Code sends one with a per-request nonce) is dropped: it tells the model
// nothing and costs bytes under the upstream's size wall
// (docs/qwen-protocol.md §11.6).
//
// Tools: a tool without a type, or of type "custom", is a function tool
// (name, description, input_schema). Anthropic-defined client tools whose
// schema Anthropic fixes and whose calls the client runs (bash_*,
// text_editor_*) are offered with that schema. A web_search_* server tool
// switches on the upstream's own web search mode (Request.Search; its
// sources come back as server_tool_use and web_search_tool_result blocks,
// see search.go). Other server tools, which Anthropic itself would run
// (web_fetch_*, code_execution_*, computer_*, memory_*, tool_search_*, …),
// are refused with a 400 naming them: ignoring them would let the model
// answer as if it had run code. thinking {type: enabled, budget_tokens} | adaptive | disabled
// sets Request.Thinking (and ThinkingBudget); without it the model's own
// default (or its -thinking variant) applies.
//
// # Answers
//
// A streamed answer is message_start, then content blocks in order (thinking
// with thinking_delta and a closing signature_delta, text with text_delta,
// tool_use with input_json_delta), each opened by content_block_start and
// closed by content_block_stop before the next one opens, then
// message_delta (stop_reason and the whole usage) and message_stop. A ping
// event is the heartbeat; a failure after the start is an error event.
// Finish reasons map stop → end_turn, tool_calls → tool_use, length →
// max_tokens, content_filter → refusal. A thinking block's signature is a
// fixed opaque string: clients (Claude Code) require one and send it back,
// and the relay never checks it.
//
// # Errors
//
// {"type": "error", "error": {"type": T, "message": M}} with Anthropic's
// types and statuses. An upstream failure or timeout answered with a 5xx is
// 529 overloaded_error: the relay already retried, and Anthropic clients
// treat 529 as "busy, try again later" (Claude Code says the API is
// overloaded instead of reporting an internal error). A conversation over
// the upstream's size wall is 400 invalid_request_error "prompt is too
// long: …", as Anthropic answers a prompt over the context window (Claude
// Code recognizes it and offers /compact); 413 request_too_large stays for
// a body over the relay's own limit.
//
// # count_tokens
//
// CountTokens estimates the prompt as the relay would send it: system,
// tools (toolcall.Render), messages with earlier calls (toolcall.RenderCall)
// and results (toolcall.RenderResult). The estimate is one token per CJK
// character plus one per 4 bytes of all other text, plus 4 per message;
// Qwen's tokenizer is not available offline, and this errs high for English
// prose and close for code.
package anthropic

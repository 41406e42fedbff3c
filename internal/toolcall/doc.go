// Package toolcall emulates tool calling over a chat upstream that has none
// that works (docs/qwen-protocol.md §11, "Tool calls"): the client's tools go
// into the prompt as text, and the model's streamed answer is parsed back
// into calls. It is shared by every API codec and depends on nothing else in
// the project.
//
// # Prompt (Render, RenderCall, RenderResult, Reminder)
//
// The tools are offered in the Hermes style the Qwen3 models were trained on:
// one {"type": "function", "function": {name, description, parameters}} line
// per tool inside <tools></tools>, and a call is
//
//	<tool_call>
//	{"name": "get_weather", "arguments": {"city": "Paris"}}
//	</tool_call>
//
// Earlier calls in the history are rendered the same way (RenderCall) and
// their results inside <tool_response></tool_response> (RenderResult). A custom
// (freeform) tool, such as Codex's apply_patch, is offered as a function with
// one string parameter "input", and the model is asked to call it in the XML
// form below, where the raw text needs no escaping (a JSON "input" string is
// accepted too); its call carries the raw text in Call.Input.
// Reminder is the text to send once more when a required call was not made.
//
// # Parsing (Parser)
//
// The answer is parsed as it streams, in frames of any size. Two call formats
// are understood inside <tool_call></tool_call>: Hermes JSON (above; the
// arguments may also be a JSON string holding the object; "parameters" is read
// as "arguments"; several objects or an array in one block, a Markdown fence,
// and raw newlines or invalid escapes inside strings are tolerated) and the
// Qwen3-Coder XML form
//
//	<function=NAME>
//	<parameter=KEY>
//	VALUE
//	</parameter>
//	</function>
//
// whose values are typed by the tool's JSON schema: integer, number, boolean,
// object and array values become JSON when they parse as such, everything
// else is a string.
//
// Rules, in the order they apply:
//   - Text outside blocks passes through byte-exact and at once; only bytes
//     that may still begin "<tool_call>" are held (Splitter), so "<b>" or
//     "a < b" come out unchanged.
//   - "</tool_call>" inside a JSON string or an XML parameter value does not
//     end a block. A block missing only its closing tag at the end of a phase
//     still counts.
//   - A call is returned only once its block is complete and valid: the tool
//     was declared and the arguments form a JSON object. So Arguments is
//     always valid JSON, and CallStart, CallArgs and CallEnd come together.
//     Any other block (malformed, undeclared tool) comes back as the text it
//     was, byte-exact.
//   - Whitespace touching a call block in the answer is dropped, so a reply
//     that is only calls has no stray "\n\n" text.
//   - In the thinking phase a call is accepted only when it stands alone: the
//     phase holds nothing but call blocks and whitespace. Such calls are
//     returned when the phase ends; the same call repeated in the answer is
//     dropped. Otherwise the block is reasoning text.
//   - tool_choice and parallel_tool_calls filter valid calls: None returns no
//     call, Function only calls of that function, parallel off only the first
//     call. A valid call filtered out is dropped silently, not turned into
//     text (with None, markup the model copied from history does not leak).
//   - After a call, a <tool_response> in the answer means the model is
//     inventing the result instead of waiting for it: that text and the rest
//     of the answer are dropped, and Stopped tells the caller it may stop
//     reading. Before any call it is plain text.
//   - RequiredUnmet tells that a call was demanded (Required or Function) and
//     none was returned.
package toolcall

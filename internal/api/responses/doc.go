// Package responses is the OpenAI Responses API surface (POST /v1/responses,
// GET and DELETE /v1/responses/{id}) as an api.Codec, with the stored
// answers that previous_response_id continues.
//
// Decisions where the relay cannot do what OpenAI does:
//   - Hosted tools (web_search, file_search, code_interpreter, local_shell,
//     mcp, …) are dropped from tools, and a tool_choice naming one is auto:
//     the relay cannot run them, and agents declare some by default.
//     Records of their calls in the input are dropped the same way.
//   - input_image (image_url: http(s) or data: URI) and input_file
//     (file_data or file_url) parts of user messages become api.Media, which
//     the server fetches or decodes and uploads (file_id references and
//     input_audio are refused with 400; a tool output's media are only
//     counted in its text); encrypted reasoning and compaction
//     items are another server's and are dropped (a reasoning item's
//     summary is kept with the next assistant turn).
//   - text.format json_object / json_schema becomes a system instruction;
//     the upstream has no constrained decoding, so a strict schema is asked
//     for, not enforced.
//   - reasoning.effort none and minimal turn thinking off; low and medium
//     set a thinking budget (2048, 8192 tokens); high and xhigh leave the
//     model's own limit.
//   - Tool calls come whole from the relay's parser (docs/qwen-protocol.md
//     §11, "Tool calls"), so a call's arguments stream as one delta.
//   - A stored answer keeps its whole conversation (not a link to the
//     previous one), so a chain survives the expiry of its older links.
//   - Errors are OpenAI's {"error":{message,type,param,code}}; a 404 is an
//     invalid_request_error, and the codes agents act on carry OpenAI's names
//     (context_length_exceeded, rate_limit_exceeded), in error bodies and in
//     response.failed alike.
//   - An output item's id carries its response's digits (msg_<d>, fc_<d>_1,
//     …), which is how item_reference finds the stored answer; only output
//     items can be referred to (input items are kept without ids).
//   - A non-streamed answer lists its reasoning, then its text, then its
//     calls. A stream lists items as they came, so text the model wrote
//     after a call is a second message item there; the stored copy (GET)
//     follows the non-streamed order.
package responses

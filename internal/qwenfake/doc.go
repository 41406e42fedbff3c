// Package qwenfake emulates the Qwen Chat web API upstream (chat.qwen.ai)
// as described in docs/qwen-protocol.md, failure modes included. Every test
// and benchmark of the project runs against it; it also runs as a process
// (Main, "qwenrelay emulator --listen …").
//
// # Endpoints
//
//	GET    /api/models                      {"data":[model…]}                 (§2.6 shape)
//	GET    /api/v2/models/                  {"success":true,"data":{"data":[…]}}
//	POST   /api/v1/auths/signin             {"email","password":sha256hex} → user + token (no auth)
//	GET    /api/v1/auths/                   the caller's user object
//	POST   /api/v2/chats/new                → {"success":true,"request_id","data":{"id":uuid}}
//	POST   /api/v2/chat/completions?chat_id v2 SSE (§3.3, §3.4); both body styles of §3.2
//	GET    /api/v2/chats/?page=N&limit=N    chat list; an empty page ends paging
//	GET    /api/v2/chats/{id}               chat detail; DELETE deletes ({"status":true})
//	POST   /api/v1/files/getstsToken        flat STS reply; /api/v2/… wraps it in {success,data}
//	POST   /api/v2/files/parse, …/status    pending → (parse) → running → success; unknown → failed
//	PUT    /oss/{bucket}/{file_path}        the emulated OSS bucket: the STS reply's endpoint is
//	                                        "http://<emulator host>/oss"; the object must have been
//	                                        granted by an STS token, x-oss-security-token must be
//	                                        that token and Authorization a V4 (OSS4-HMAC-SHA256,
//	                                        UNSIGNED-PAYLOAD) or V1 ("OSS <key>:<sig>") signature
//	                                        by its access key (the shape is checked, not the HMAC)
//	GET    /api/v1/tasks/status/{id}        t2v tasks (v2 t2v with stream:false): "running" with a progress
//	                                        for Options.VideoPolls polls (default 1), then "success" with
//	                                        the URL of GET /qwenfake/t2v/{id}.mp4?key=qwenfake (a tiny
//	                                        mp4-like VideoFile, no token), or "failed" when the prompt
//	                                        holds VideoFailMarker; tasks belong to their user (another
//	                                        user's poll, like an unknown id, is "failed"). fail=quota and
//	                                        the other pre-stream failures apply to t2v too (video.go)
//	POST   /api/chat/completions            era 1: cumulative frames, or incremental with phase
//	GET    /qwenfake/stats                  the Stats snapshot as JSON (emulator only, no token)
//
// Stats counts chats created (ChatsNew), deleted (ChatsDeleted: a DELETE
// that found the caller's chat), used (ChatsUsed: a completion was accepted
// for it), expired (ChatsExpired) and stored now (ChatsAlive), so a test can
// prove that a client cleans up after itself. Options.ChatDelay (flag
// --chat-delay) delays every chats/new answer, as the real service does;
// with Options.ChatExpiry (--chat-expiry) a chat with no completion that
// long after its creation is gone: 404 Not_Found, like an unknown id.
//
// Every endpoint but signin and /qwenfake/stats needs an HS256 JWT signed with Options.Secret and
// not expired (exp >= Now), sent as "Authorization: Bearer <JWT>" or as the
// cookie "token=<JWT>" (the header wins when both are present); otherwise
// 401 {"detail":…}. There is no guest mode. RequireHeaders applies to /api/v2/chat/completions and the
// /api/v2/chats endpoints; a missing header gets the WAF page.
//
// # Completion stream (v2)
//
// response.created; then, with thinking on (feature_config.thinking_enabled
// and a thinking model), the reasoning pieces — thinking_format "detail":
// phase "think" incremental frames; anything else: phase "thinking_summary"
// frames whose extra.summary_title/summary_thought arrays are resent whole
// (four pieces per paragraph) — and a {"phase":…,"status":"finished"} frame;
// then answer frames (one piece each, an empty typing frame after the first
// piece), an empty typing frame, and the finished frame without usage. Usage
// is cumulative; output_tokens counts reasoning and answer pieces,
// input_tokens is 1000 + len(text)/4. delta.phase is omitted unless
// feature_config.output_schema is "phase". No [DONE] unless SendDone.
// A search request (chat_type "search", or feature_config.auto_search, on
// a model whose chat types list "search") first gets three web_search
// frames carrying extra.web_search_info: cumulative lists of
// SearchSources, the first frame with role "function" and name
// "web_search", the last with status "finished" (search.go); the answer
// that follows is the same as without search.
// A t2i or image_edit request (chat_type) answers with image_gen frames
// whose content is the URL of a PNG the emulator serves itself under
// /output/ (t2i.go: size from the request's ratio, see image= below).
// A request with several messages gets a complete stream with no content
// (the 2025-10 upstream behaviour); stream:false gets Bad_Request except for
// chat_type t2v (a task). Unknown chat ids are HTTP 404 Not_Found JSON, a
// missing chat_id or unknown model a 200 Bad_Request JSON.
//
// Texts are deterministic: AnswerText, ReasoningText, SummaryTitles,
// SummaryThoughts, SummaryText and LegacyText return exactly what is streamed.
// The default seed is "".
//
// # Directives
//
// The last "[[qwenfake key=value …]]" in the last message's text controls
// one request (unknown keys and bad values are ignored):
//
//	tokens=N     answer pieces (default Options.DefaultTokens)
//	think=N      reasoning pieces when thinking is on (default DefaultThinkTokens)
//	seed=S       text seed (default "")
//	delay=D      Go duration between frames
//	split=N      write frames in pieces of at most N bytes
//	fail=MODE    inject a failure mode
//	times=N      with id=S: only the first N requests carrying that id fail
//	             (the counter is per id; Reset clears it); 0 = always
//	after=N      content frames (reasoning and answer) before a mid-stream failure
//	retry_after=N  the Retry-After seconds of fail=http429 (default 7)
//	dual=1       (v2) two candidate answers in one stream (§11.4): two response.created
//	             frames (response_index "0" and "1", different response_id), then the
//	             frames of both alternating, the second candidate's first; its text is
//	             DualSecondText. Failures hit the first candidate only.
//
// A failure set with SetAccountFailure takes precedence over a directive.
//
// # Tool-call answers
//
// The upstream has no working native function calling; a model calls tools
// in text (docs/qwen-protocol.md §11). These keys make the answer such text;
// ToolPlan (from Directive.ToolPlan) returns exactly what is streamed and
// ToolCallArgs the arguments object a relay must hand its client:
//
//	calls=N      N call blocks (0..64; any other call key alone means 1)
//	callfmt=F    hermes (default): <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>;
//	             xml: the Qwen3-Coder form <tool_call>\n<function=NAME>\n<parameter=K>\nV\n</parameter>…
//	             </function>\n</tool_call> (declare ToolSchema so "count" is typed);
//	             json_string: Hermes with the arguments as a JSON string;
//	             bad: a Hermes block missing a comma (never a valid call);
//	             undeclared: a valid Hermes call to UndeclaredTool;
//	             custom: a custom (freeform) tool's call, <function=NAME> with one
//	             <parameter=input> holding ToolCallInput raw (name= the custom tool)
//	callwhere=W  answer (default), or thinking: the blocks, one per line, are the
//	             whole thinking phase, sent as incremental "think" frames even
//	             when the request did not ask for thinking
//	calltext=T   none (default), before, after or both: prose (AnswerText of the
//	             seed, and of seed+"#after", tokens pieces) around the blocks,
//	             separated by a blank line
//	name=S       the tool called; default: the first tool of the prompt's
//	             <tools> section (one JSON signature per line, as the relay
//	             renders it), else DefaultToolName
//	prose=N      with id=S: the first N requests carrying that id answer the
//	             usual prose instead of the calls (a relay re-asking for a
//	             required call then gets it; the counter is per id, shared by
//	             all requests without one; Reset clears it)
//	echo=1       the answer is the text of the last message as received (the
//	             flattened prompt); echo=json: that text as a JSON string with
//	             HTML escaping (no '<' survives, so a relay's tool-call parser
//	             leaves it alone: decode it to see the prompt). It wins over
//	             the call keys
//	echo=files   the answer lists the files[] of the last message, one line
//	             each: "file name=N class=vision|document type=T size=N" (what
//	             the emulator stored at the PUT), or "files: none". Every
//	             files[] entry of a request must name an object the same user
//	             uploaded (documents: also parsed), else Bad_Request.
//	             SetUploadFailure makes uploads fail (sts, sts_quota, put, parse).
//	echo=doc     the answer is what the model would read: for each document
//	             of the last message "[file NAME]\n" and its text as PUT (kept
//	             up to 1 MiB; images are only counted), then "[message]\n" and
//	             the message text. Use a large chunk=N for long texts.
//	             echo=docjson: the same as a JSON string (see echo=json).
//	             Stats.MaxCompletionBody is the largest completion body read.
//	image=W      image chats only: where the image URL shows: stream (the
//	             default), detail (only in the chat detail, GET
//	             /api/v2/chats/{id}) or none (nowhere: an empty answer)
//	chunk=N      bytes per content frame of a call or echo answer; default: 1,
//	             2 or 3 bytes chosen from the seed, so every tag is split. A
//	             frame never splits a character (a longer character is a frame
//	             of its own). split=N and delay apply as usual.
//
// The arguments hold the hard cases: quotes, backslashes, a newline, a tab,
// CJK, emoji and the literal text "</tool_call>". Scripted answers count one
// output token per frame; fail=empty and think_only drop them, and a request
// with several messages stays empty. The era-1 stream uses them too; its
// stream:false reply does not.
//
// # Failure modes
//
// Before the stream (HTTP status 200 unless noted):
//
//	captcha         {"ret":["FAIL_SYS_USER_VALIDATE",…],"data":{"url":…punish…}} (also any body > MaxBodyBytes)
//	waf             text/html "<!doctypehtml>…aliyun_waf_aa…" (status unknown upstream; 200 chosen)
//	quota           {"success":false,"data":{"code":"RateLimited",…,"num":4}}
//	bad_request     {"success":false,"data":{"code":"Bad_Request","details":"Internal error"}}
//	content_filter  {"success":false,"data":{"code":"data_inspection_failed","details":"内容安全警告：输入数据…"}}
//	http429         429 with Retry-After: 7 (retry_after=N sets N seconds)
//	http401         401 {"detail":…}; http403: 403 {"detail":…}
//	http500         500 text/plain; http502: 502 text/html (gateway page)
//	invalid_input   {"success":false,"data":{"code":"invalid_input",…}} (also what a model with
//	                ThinkingRequired answers when thinking is off, §11.3)
//	stall           no response at all until the client leaves (or Close), then the connection is aborted
//
// Inside the stream, after Failure.After content frames (response.created
// is always sent first; an error frame ends the stream without a finished
// frame):
//
//	quota_frame         data: {"error":{"code":"internal_error","details":"Allocated quota exceeded… #token-limit"}}
//	error_frame         data: {"error":{"code":"internal_error","details":…}}
//	content_filter_mid  data: {"error":{"code":"data_inspection_failed","details":"内容安全警告：输出内容…"}}
//	stall_mid           silence until the client leaves, then abort
//	cut                 the connection is aborted (no finished frame)
//	malformed           one frame with broken JSON, then the stream continues unchanged
//	empty               complete stream with no content (no reasoning either)
//	think_only          reasoning then finished, no answer
//
// On era-1 streams the same modes apply with era-1 framing.
//
// # Choices where the protocol notes are silent
//
//   - WAF page, captcha JSON and every JSON error are HTTP 200 (§10 leaves
//     the status open); an unknown chat id is 404 Not_Found JSON.
//   - Order of checks on completions: WAF headers, body size, token, then the
//     injected failure, then chat id / stream / model validation.
//   - "think" frames (thinking_format "detail") end with a
//     {"phase":"think","status":"finished"} frame, by analogy with
//     thinking_summary; a client must not stop at it.
//   - usage.output_tokens_details.text_tokens equals output_tokens (as in
//     both captures); reasoning_tokens appears only when thinking is on.
//   - v2 is always incremental whatever incremental_output says. Era 1 keeps
//     delta.phase on incremental frames regardless of output_schema; its
//     <think> block is "<think>\n" + reasoning + "\n</think>\n\n".
//   - Text is raw UTF-8 in JSON except two vocabulary pieces sent as \u
//     escapes (" über", " 😀" as a surrogate pair).
//   - Frame timestamps and token expiry use Options.Now.
//   - Account failures apply to completion requests only.
//   - Close makes stalled and paced streams abort their connections, so
//     http.Server.Shutdown does not wait for them; Main calls it.
package qwenfake

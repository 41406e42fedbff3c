// Package api is the contract between the HTTP server and the API surfaces
// it serves (OpenAI chat completions, Anthropic Messages, OpenAI Responses).
// Each surface is a Codec in its own package (internal/api/openai,
// internal/api/anthropic, internal/api/responses): it turns its wire request
// into the neutral Request, and the neutral Events, Answer and Problem into
// its own wire format. The server runs one path for all of them: decode,
// resolve the model, admit the client key, render tools into the prompt,
// run the relay with retries, parse tool calls out of the answer, encode.
// A new API surface is a new Codec, not a new branch in a shared handler.
package api

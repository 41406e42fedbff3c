// Package media turns what a client sends as an image or a file (an http(s)
// URL, a data: URI, an OpenAI file part) into bytes with a checked media type,
// ready for the upload path of docs/qwen-protocol.md §6.6 and §11 ("Files,
// vision, search, media").
//
// Fetching a client-given URL is a server-side request made on the client's
// behalf, so Fetcher refuses any target that is not a public unicast address.
// The rule is applied to the address actually dialed, after DNS resolution,
// for the first request and for every redirect, so DNS rebinding and redirects
// cannot reach loopback, private, link-local or metadata addresses.
//
// Every error the package returns is an *Error whose Message is safe to show a
// client: it never contains URL credentials, query strings or resolved
// addresses of names (those go to the wrapped cause, for logs).
package media

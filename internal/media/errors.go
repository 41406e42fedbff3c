package media

import (
	"fmt"
	"net/http"
)

// Code classifies a media failure. Callers switch on it with errors.As to
// choose an HTTP status; the set is closed.
type Code string

// Codes. All but CodeCanceled are the client's fault or the remote site's
// and map to a 4xx answer; CodeCanceled means the caller's context ended.
const (
	CodeInvalidURL       Code = "invalid_url"        // not an absolute http(s) URL, or a malformed host
	CodeBlockedAddress   Code = "blocked_address"    // the target is loopback, private, link-local, …
	CodeTooManyRedirects Code = "too_many_redirects" // more redirects than Fetcher.MaxRedirects
	CodeFetchFailed      Code = "fetch_failed"       // DNS, connect, TLS or read failure
	CodeHTTPStatus       Code = "http_status"        // the remote answered a non-2xx status
	CodeTimeout          Code = "timeout"            // Fetcher.Timeout elapsed
	CodeCanceled         Code = "canceled"           // the caller's context ended first
	CodeTooLarge         Code = "too_large"          // more bytes than the size limit
	CodeUnsupportedType  Code = "unsupported_type"   // media type not in the allowed list
	CodeTypeMismatch     Code = "type_mismatch"      // declared type contradicts the content
	CodeInvalidDataURI   Code = "invalid_data_uri"   // malformed data: URI or base64
	CodeInvalidFile      Code = "invalid_file"       // malformed OpenAI file part
)

// Error is a classified media failure. Message is safe to show a client;
// Err, when set, holds the underlying cause for logs.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

func errorf(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// HTTPStatus is the status a relay answers with for this failure: 499
// (client closed request, for logs) when the caller left, 413 when the medium
// is over the size limit, and 400 for everything else, since the URL or
// payload came from the client.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case CodeCanceled:
		return 499
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

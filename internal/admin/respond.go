package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// apiError is an error the admin API decides on itself.
type apiError struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
}

func (e *apiError) Error() string { return e.Message }

var errInternal = &apiError{Status: http.StatusInternalServerError, Type: openai.TypeServer, Code: "internal_error",
	Message: "internal error; see the relay's log"}

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "invalid_value",
		Param: param, Message: fmt.Sprintf(format, args...)}
}

func errorBody(e *apiError) openai.ErrorBody {
	return openai.NewError(e.Type, e.Code, e.Param, e.Message)
}

// mapError is the one place where an error becomes a status and a body.
// Messages of store and internal errors are logged, never sent.
func mapError(err error) *apiError {
	var (
		ae  *apiError
		ie  *InputError
		ve  *keys.ValidationError
		ue  *upstream.Error
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ie):
		return badRequest(ie.Param, "%s", ie.Message)
	case errors.As(err, &ve):
		return badRequest(ve.Param, "%s", ve.Message)
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: openai.TypeInvalidRequest, Code: "request_too_large",
			Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Type: openai.TypeNotFound, Code: "not_found", Param: "id", Message: "no such record"}
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Type: openai.TypeInvalidRequest, Code: "conflict",
			Message: "a record with the same unique field (such as the name) already exists"}
	case errors.As(err, &ue):
		msg := ue.Message
		if msg == "" {
			msg = ue.Kind.String()
		}
		return &apiError{Status: http.StatusBadGateway, Type: openai.TypeUpstream, Code: "upstream_" + ue.Kind.String(),
			Message: "Qwen Chat refused: " + msg}
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Type: openai.TypeInvalidRequest, Code: "client_closed", Message: "client closed the request"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Type: openai.TypeTimeout, Code: "timeout", Message: "the request timed out"}
	}
	return errInternal
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := mapError(err)
	if e.Status >= 500 && e.Status != http.StatusBadGateway {
		h.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if e.Status == 499 {
		return // nobody is listening
	}
	writeJSON(w, e.Status, errorBody(e))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"internal error: could not encode the response","type":"server_error","param":null,"code":"internal_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads one JSON object strictly: bounded size, no unknown fields,
// nothing after it.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "request body is empty; send a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "request body is not valid JSON")
	case errors.As(err, &te):
		return badRequest(te.Field, "field %q must be %s", te.Field, te.Type.String())
	}
	var pe *apiError
	if errors.As(err, &pe) {
		return pe
	}
	if field, ok := unknownField(err); ok {
		return badRequest(field, "unknown field %q", field)
	}
	return badRequest("", "invalid request body: %s", err.Error())
}

// unknownField extracts the name from encoding/json's unknown-field error
// (it has no typed form).
func unknownField(err error) (string, bool) {
	const pfx = `json: unknown field "`
	s := err.Error()
	if len(s) > len(pfx)+1 && s[:len(pfx)] == pfx && s[len(s)-1] == '"' {
		return s[len(pfx) : len(s)-1], true
	}
	return "", false
}

// pathID parses the {id} path segment.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id", "id must be a positive integer")
	}
	return id, nil
}

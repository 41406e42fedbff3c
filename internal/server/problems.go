package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/catalog"
)

// StatusClientClosed is logged (never sent) when the client went away.
const StatusClientClosed = api.StatusClientClosed

// defaultCodec renders the errors of routes that are not an answer surface
// (models, unknown URLs): OpenAI's shape.
var defaultCodec api.Codec = openai.Codec{}

// codecOf is the API surface of the request's route.
func codecOf(ri *reqInfo) api.Codec {
	if ri.codec != nil {
		return ri.codec
	}
	return defaultCodec
}

// shutdownProblem is what a request aborted by a shutdown is answered with.
func shutdownProblem(started bool) *api.Problem {
	msg := "the relay is shutting down and could not finish this request; retry it in a moment"
	if started {
		msg = "the relay is shutting down and ended this answer before it was complete; retry the request"
	}
	return &api.Problem{Status: http.StatusServiceUnavailable, Class: api.ClassServer, Code: "server_shutting_down",
		Message: msg, RetryAfter: 5 * time.Second}
}

// problem maps err; a request aborted by a shutdown (AbortOpen) is
// server_shutting_down, whatever the error its cancellation caused.
func (s *Server) problem(r *http.Request, err error) *api.Problem {
	if errors.Is(context.Cause(r.Context()), ErrShuttingDown) {
		return shutdownProblem(false)
	}
	return api.ProblemOf(err, s.opts.Passthrough)
}

// writeError renders err in the shape of the route's API surface, with
// its status and Retry-After, and records its kind.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := s.problem(r, err)
	ri := info(r.Context())
	ri.errKind = p.LogKind()
	if p.Status == StatusClientClosed {
		return // nobody is listening
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterHeader(p.RetryAfter))
	}
	status, body := codecOf(ri).Error(p)
	writeJSONBytes(w, r, status, body)
}

// retryAfterHeader formats a duration as whole seconds, rounded up.
func retryAfterHeader(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// modelProblem renders a catalog failure: an unknown model names the
// nearest ones.
func modelProblem(err error) error {
	var nf *catalog.NotFoundError
	if !errors.As(err, &nf) {
		return err
	}
	msg := "The model '" + quoted(nf.Name) + "' does not exist or you do not have access to it."
	if len(nf.Suggestions) > 0 {
		msg += " Did you mean: " + strings.Join(nf.Suggestions, ", ") + "? GET /v1/models lists them all."
	} else {
		msg += " GET /v1/models lists the models."
	}
	return &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest, Code: "model_not_found", Param: "model", Message: msg}
}

// Package server is the public HTTP API: routes, middleware and thin handlers
// that decode a request, call the relay, and encode the answer.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/catalog"
	"github.com/qwenrelay/qwenrelay/internal/media"

	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Options are the server's settings.
type Options struct {
	APIKey            string // bootstrap key; "" = none (see auth.go for who may call)
	Passthrough       bool   // the client's Bearer token is its Qwen token
	MaxInFlight       int
	MaxRequestBytes   int64
	HeartbeatInterval time.Duration
	ModelsTTL         time.Duration
	CORSOrigins       []string
	Now               func() time.Time
	// Keys authenticates client keys and applies their limits; nil = only
	// the bootstrap APIKey (and loopback) are accepted.
	Keys KeyAuth
	// Usage receives one row per chat request; nil = not recorded.
	Usage UsageSink
	// ClientWriteTimeout bounds each write to a streaming client; a client
	// that reads nothing for that long is dropped. 0 = 60s.
	ClientWriteTimeout time.Duration
	// ModelAliases maps the model names agents send to catalog models.
	ModelAliases *catalog.Aliases
	// ToolRetries: how many times a required tool call is asked for again
	// when the model answered in prose (0 = never).
	ToolRetries int
	// Surfaces are the API surfaces served besides OpenAI chat completions.
	Surfaces []Surface
	// Media fetches and decodes the images and files clients attach (its
	// AllowPrivate, MaxBytes and Timeout are settings); nil = defaults.
	Media *media.Fetcher
}

// Surface is one API surface: its codec, the paths of its answer route,
// and other routes of its own (count_tokens, stored responses).
type Surface struct {
	Route string
	Codec api.Codec
	Paths []string
	Extra []Route
}

// Route is an extra handler of a surface: Pattern is a ServeMux pattern
// with its method ("GET /v1/responses/{id}").
type Route struct {
	Route   string
	Pattern string
	Handler http.Handler
}

// KeyAuth is what the server needs of the client key service.
type KeyAuth interface {
	Authenticate(ctx context.Context, plain string) (*store.Key, error)
	Admit(ctx context.Context, key *store.Key, model string) (release func(tokens int64), err error)
	// AnyKeys reports whether any client key exists (revoked or expired
	// ones included); it may be cached briefly.
	AnyKeys(ctx context.Context) (bool, error)
}

// UsageSink records usage rows off the request path.
type UsageSink interface {
	Record(rec store.UsageRecord)
}

// Server serves the OpenAI-compatible API.
type Server struct {
	opts     Options
	relay    *relay.Relay
	picker   relay.Picker // nil in passthrough mode
	metrics  *metrics.Metrics
	log      *slog.Logger
	catalog  *catalog.Catalog
	inFlight atomic.Int64 // API requests past auth, for the MaxInFlight cap
	active   atomic.Int64 // requests in any handler, until their usage row is recorded
	open     openRequests
}

// New builds a Server. picker may be nil only in passthrough mode.
func New(opts Options, r *relay.Relay, picker relay.Picker, m *metrics.Metrics, log *slog.Logger) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientWriteTimeout == 0 {
		opts.ClientWriteTimeout = 60 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metrics.New()
	}
	return &Server{
		opts: opts, relay: r, picker: picker, metrics: m, log: log,
		catalog: catalog.New(opts.ModelsTTL, opts.Now, opts.ModelAliases),
		open:    openRequests{aborted: make(chan struct{}), reqs: map[*openRequest]struct{}{}},
	}
}

// withCodec marks the route's API surface, so every error on it, from the
// middleware too, is rendered in that surface's shape.
func (s *Server) withCodec(c api.Codec, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r.Context()).codec = c
		next.ServeHTTP(w, r)
	})
}

// Handler returns the root handler with all middleware applied.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(route string, h http.Handler) http.Handler {
		return s.withRoute(route, s.abortable(s.auth(s.limit(h))))
	}
	answers := func(name string, c api.Codec, paths ...string) {
		h := s.withCodec(c, route(name, s.serveAnswer(c)))
		for _, p := range paths {
			mux.Handle(p, methods(h, http.MethodPost))
		}
	}
	answers("chat", openai.Codec{}, "/v1/chat/completions", "/chat/completions", "/v1/v1/chat/completions")
	for _, sf := range s.opts.Surfaces {
		answers(sf.Route, sf.Codec, sf.Paths...)
		for _, x := range sf.Extra {
			mux.Handle(x.Pattern, s.withCodec(sf.Codec, route(x.Route, x.Handler)))
		}
	}
	s.imageRoutes(mux, route)
	models := route("models", http.HandlerFunc(s.handleModels))
	model := route("model", http.HandlerFunc(s.handleModel))
	for _, p := range []string{"/v1/models", "/models", "/v1/v1/models"} {
		mux.Handle(p, methods(models, http.MethodGet))
		mux.Handle(p+"/{id...}", methods(model, http.MethodGet))
	}
	mux.Handle("/healthz", s.withRoute("healthz", methods(http.HandlerFunc(s.handleHealth), http.MethodGet, http.MethodHead)))
	mux.Handle("/metrics", s.withRoute("metrics", methods(s.metricsAuth(s.metrics.Handler()), http.MethodGet)))
	mux.Handle("/", s.withRoute("not_found", http.HandlerFunc(s.handleNotFound)))
	return s.requestID(s.cors(mux))
}

// WaitIdle waits until no request is being served and every usage row has
// been handed to the sink, or ctx ends. Call it after the HTTP server
// stopped (or after AbortOpen).
func (s *Server) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// openRequests tracks the API requests being served, so that a shutdown
// whose grace period ran out can end them properly (AbortOpen).
type openRequests struct {
	mu      sync.Mutex
	aborted chan struct{} // closed by AbortOpen
	reqs    map[*openRequest]struct{}
}

type openRequest struct{ cancel context.CancelCauseFunc }

// add registers a request; false means the server is already aborting.
func (o *openRequests) add(r *openRequest) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.aborted:
		return false
	default:
	}
	o.reqs[r] = struct{}{}
	return true
}

func (o *openRequests) remove(r *openRequest) {
	o.mu.Lock()
	delete(o.reqs, r)
	o.mu.Unlock()
}

// AbortOpen ends every API request still being served, and every one that
// arrives later, with ErrShuttingDown: their upstream calls are cancelled,
// an open stream gets an OpenAI error event and [DONE] (see sseWriter.close)
// and a request that has sent nothing yet gets 503 server_shutting_down.
// Their usage rows are recorded as usual. Call it when the shutdown grace
// period has run out, then wait for the handlers (WaitIdle). It returns how
// many requests were open.
func (s *Server) AbortOpen() int {
	o := &s.open
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.aborted:
	default:
		close(o.aborted)
	}
	for r := range o.reqs {
		r.cancel(ErrShuttingDown)
	}
	return len(o.reqs)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{"status": "ok", "in_flight": s.inFlight.Load()})
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &api.Problem{Status: http.StatusNotFound, Class: api.ClassInvalidRequest, Code: "unknown_url",
		Message: "Unknown request URL: " + quoted(r.Method) + " " + quoted(r.URL.Path) + ". Use /v1/chat/completions or /v1/models."})
}

// methods answers 405 with an OpenAI error for other methods.
func methods(h http.Handler, allowed ...string) http.Handler {
	allow := ""
	for i, m := range allowed {
		if i > 0 {
			allow += ", "
		}
		allow += m
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		status, body := codecOf(info(r.Context())).Error(&api.Problem{Status: http.StatusMethodNotAllowed, Class: api.ClassInvalidRequest,
			Code: "method_not_allowed", Message: "Method " + quoted(r.Method) + " is not allowed on " + quoted(r.URL.Path) + "; use " + allow + "."})
		writeJSONBytes(w, r, status, body)
	})
}

package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// reqInfo is the per-request record the access log prints. Handlers fill it.
type reqInfo struct {
	id         string
	route      string
	start      time.Time
	model      string
	stream     bool
	ttft       time.Duration
	errKind    string
	attempts   int
	credential string
	clientCred *upstream.Credential // passthrough: the caller's own token
	key        *store.Key           // the caller's client key, nil for the bootstrap key or loopback
	accountID  int64
	usage      upstream.Usage
	codec      api.Codec // the route's API surface (nil: not an answer route)
}

type ctxKey struct{}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// requestID takes a sane X-Request-Id from the client or makes one, and
// echoes it.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneID(id) {
			id = randomID("req_", 12)
		}
		w.Header().Set("X-Request-Id", id)
		ri := &reqInfo{id: id, start: s.opts.Now()}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri)))
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withRoute names the route, recovers panics, and writes the access log
// line and request metrics when the request ends.
func (s *Server) withRoute(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		ri.route = route
		rec := &statusRecorder{ResponseWriter: w}
		s.active.Add(1)
		defer s.active.Add(-1) // last: after the log line and the usage row
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "request_id", ri.id, "panic", p, "stack", string(debug.Stack()))
				ri.errKind = "panic"
				ip := &api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer, Code: "internal_error",
					Message: "internal error; see the relay's log"}
				switch {
				case !rec.wrote:
					status, body := codecOf(ri).Error(ip)
					writeJSONBytes(rec, r, status, body)
				case strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream"):
					// The stream had begun: end it visibly, never silently.
					_, _ = rec.Write(codecOf(ri).NewStream(&api.Request{}, api.Meta{}).Fail(nil, ip))
				}
			}
			status := rec.status()
			s.logRequest(r, ri, status)
			if ri.codec != nil {
				s.recordUsage(ri, status)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func (s *Server) logRequest(r *http.Request, ri *reqInfo, status int) {
	if ri.errKind == "client_gone" {
		status = StatusClientClosed
	}
	dur := s.opts.Now().Sub(ri.start)
	s.metrics.Request(ri.route, status, dur.Seconds())
	if ri.route == "metrics" || ri.route == "healthz" {
		return
	}
	level := slog.LevelInfo
	if status >= 500 && status != StatusClientClosed {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", ri.id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Duration("duration", dur),
	}
	if ri.model != "" {
		attrs = append(attrs, slog.String("model", ri.model), slog.Bool("stream", ri.stream))
	}
	if ri.ttft > 0 {
		attrs = append(attrs, slog.Duration("ttft", ri.ttft))
	}
	if ri.attempts > 0 {
		attrs = append(attrs, slog.Int("attempts", ri.attempts), slog.String("credential", ri.credential))
	}
	if ri.errKind != "" {
		attrs = append(attrs, slog.String("error_kind", ri.errKind))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// statusRecorder remembers the status; Unwrap lets http.ResponseController
// reach the real writer's Flush.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// ErrShuttingDown is the cause with which AbortOpen cancels the requests
// still open when the shutdown grace period ran out.
var ErrShuttingDown = errors.New("the relay is shutting down")

// abortable gives the request a context that AbortOpen can cancel, and lets
// the stream writer find out that it was (abortWriter).
func (s *Server) abortable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		or := &openRequest{cancel: cancel}
		if s.open.add(or) {
			defer s.open.remove(or)
		} else {
			cancel(ErrShuttingDown)
		}
		next.ServeHTTP(&abortWriter{ResponseWriter: w, aborted: s.open.aborted, ri: info(ctx)}, r.WithContext(ctx))
	})
}

// abortWriter carries what a stream needs to end itself properly on an
// aborted shutdown; newSSEWriter looks for it.
type abortWriter struct {
	http.ResponseWriter
	aborted <-chan struct{}
	ri      *reqInfo
}

func (w *abortWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limit caps requests in flight.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.inFlight.Add(1); n > int64(s.opts.MaxInFlight) {
			s.inFlight.Add(-1)
			s.writeError(w, r, &api.Problem{Status: http.StatusTooManyRequests, Class: api.ClassRateLimit, Code: "server_busy",
				Message: "the relay is at its limit of requests in flight (QWENRELAY_MAX_IN_FLIGHT); retry shortly", RetryAfter: 5 * time.Second})
			return
		}
		s.metrics.InFlight(1)
		defer func() {
			s.inFlight.Add(-1)
			s.metrics.InFlight(-1)
		}()
		next.ServeHTTP(w, r)
	})
}

// cors answers preflights and sets the allow-origin header for allowed
// origins.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.opts.CORSOrigins) == 0 {
		return next
	}
	any := false
	allowed := map[string]bool{}
	for _, o := range s.opts.CORSOrigins {
		if o == "*" {
			any = true
		}
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (any || allowed[origin]) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				reqHeaders := r.Header.Get("Access-Control-Request-Headers")
				if reqHeaders == "" {
					reqHeaders = "Authorization, Content-Type"
				}
				h.Set("Access-Control-Allow-Headers", reqHeaders)
				h.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Fingerprint is a short, non-reversible label for a secret, for logs.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// recordUsage hands the request's accounting row to the usage sink.
func (s *Server) recordUsage(ri *reqInfo, status int) {
	if s.opts.Usage == nil || ri.model == "" {
		return
	}
	var keyID int64
	if ri.key != nil {
		keyID = ri.key.ID
	}
	if ri.errKind == "client_gone" {
		status = StatusClientClosed
	}
	s.opts.Usage.Record(store.UsageRecord{
		Time: ri.start, RequestID: ri.id, KeyID: keyID, AccountID: ri.accountID, Model: ri.model, Stream: ri.stream,
		PromptTokens: ri.usage.PromptTokens, CompletionTokens: ri.usage.CompletionTokens, ReasoningTokens: ri.usage.ReasoningTokens,
		TTFT: ri.ttft, Duration: s.opts.Now().Sub(ri.start), Status: status, ErrorKind: ri.errKind,
	})
}

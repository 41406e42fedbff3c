// Package admin is the admin HTTP API: upstream accounts, client keys,
// usage and pool status. It is its own http.Handler, meant for a separate
// (usually private) listener, and speaks JSON with OpenAI-shaped errors.
// Every request needs "Authorization: Bearer <admin key>".
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// Accounts is what the admin API needs from the account pool; the
// integrator adapts the pool to it. Errors: store.ErrNotFound (404),
// store.ErrConflict (409), *InputError (400), *upstream.Error (502, its
// message is shown).
type Accounts interface {
	Add(ctx context.Context, in AddAccount) (AccountView, error)
	List(ctx context.Context) ([]AccountView, error)
	SetDisabled(ctx context.Context, id int64, disabled bool) error
	Delete(ctx context.Context, id int64) error
	Test(ctx context.Context, id int64) (AccountView, error)
	Update(ctx context.Context, id int64, in UpdateAccount) error
}

// UpdateAccount is an operator's edit of an account (already validated by
// the handler); nil fields stay as they are. Token and Proxy are secrets.
type UpdateAccount struct {
	Name          *string
	Token         *string
	Proxy         *string
	MaxConcurrent *int
	MinInterval   *time.Duration
}

// AddAccount is a new account, by token or by email and password (already
// validated by the handler). Token, Password and Proxy are secrets.
type AddAccount struct {
	Name          string
	Token         string
	Email         string
	Password      string
	Proxy         string
	MaxConcurrent int           // 0 = the pool default
	MinInterval   time.Duration // 0 = the pool default
	NoCheck       bool          // store without probing upstream
}

// AccountView is an account as the admin sees it. It never carries a
// secret: Proxy is masked, TokenPrefix is a short prefix of the token.
type AccountView struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	State       string     `json:"state"`
	Reason      string     `json:"reason"`
	StateSince  *time.Time `json:"state_since"`
	CoolUntil   *time.Time `json:"cool_until"`
	TokenExpiry *time.Time `json:"token_expiry"`
	LastUsed    *time.Time `json:"last_used"`
	PunishURL   string     `json:"punish_url"`
	TokenPrefix string     `json:"token_prefix"`
	HasPassword bool       `json:"has_password"`
	InFlight    int        `json:"in_flight"`
	Requests    int64      `json:"requests"`
	Failures    int64      `json:"failures"`
	Models      []string   `json:"models"`
	Proxy       string     `json:"proxy"`
}

// InputError is bad input detected below the handler (for example by the
// Accounts adapter); it is served as 400 with Param.
type InputError struct {
	Param   string
	Message string
}

func (e *InputError) Error() string { return e.Message }

type handler struct {
	adminKey [32]byte
	enabled  bool
	accounts Accounts
	keys     *keys.Service
	usage    store.UsageStore
	log      *slog.Logger
	now      func() time.Time
}

// New returns the admin API. An empty adminKey refuses every request.
func New(adminKey string, accounts Accounts, keySvc *keys.Service, usage store.UsageStore, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{
		adminKey: sha256.Sum256([]byte(adminKey)), enabled: adminKey != "",
		accounts: accounts, keys: keySvc, usage: usage, log: log, now: time.Now,
	}
	mux := http.NewServeMux()
	routes := map[string]http.HandlerFunc{
		"GET /admin/accounts":               h.listAccounts,
		"POST /admin/accounts":              h.addAccount,
		"POST /admin/accounts/{id}/enable":  h.enableAccount,
		"POST /admin/accounts/{id}/disable": h.disableAccount,
		"POST /admin/accounts/{id}/test":    h.testAccount,
		"DELETE /admin/accounts/{id}":       h.deleteAccount,
		"PATCH /admin/accounts/{id}":        h.updateAccount,
		"GET /admin/keys":                   h.listKeys,
		"POST /admin/keys":                  h.createKey,
		"PATCH /admin/keys/{id}":            h.updateKey,
		"DELETE /admin/keys/{id}":           h.revokeKey,
		"GET /admin/usage":                  h.queryUsage,
		"GET /admin/usage/daily":            h.dailyUsage,
		"GET /admin/status":                 h.status,
	}
	for pattern, fn := range routes {
		mux.Handle(pattern, fn)
	}
	return h.recoverAndLog(h.auth(unmatched(mux)))
}

// auth requires the admin key. Both sides are hashed first so the compare
// is constant-time regardless of length.
func (h *handler) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(bearer(r)))
		if !h.enabled || subtle.ConstantTimeCompare(got[:], h.adminKey[:]) != 1 {
			h.writeError(w, r, &apiError{Status: http.StatusUnauthorized, Type: "authentication_error", Code: "invalid_admin_key",
				Message: "Incorrect or missing admin key. Send 'Authorization: Bearer <admin key>'."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// recoverAndLog writes one log line per request (never a body or header)
// and turns a panic into a 500.
func (h *handler) recoverAndLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.now()
		rec := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.Error("admin: panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if rec.code == 0 {
					h.writeError(rec, r, errInternal)
				}
			}
			h.log.Info("admin request", "method", r.Method, "path", r.URL.Path, "status", rec.status(),
				"duration", h.now().Sub(start), "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// unmatched turns the mux's plain-text 404 and 405 answers into OpenAI
// errors (keeping the Allow header).
func unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		hd.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		e := &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unknown_route",
			Message: "no admin route " + r.Method + " " + r.URL.Path}
		if probe.code == http.StatusMethodNotAllowed {
			e.Status, e.Code = http.StatusMethodNotAllowed, "method_not_allowed"
			e.Message = "method " + r.Method + " not allowed on " + r.URL.Path
		}
		writeJSON(w, e.Status, errorBody(e))
	})
}

// headerProbe records what the mux's fallback handler would answer.
type headerProbe struct {
	header http.Header
	code   int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.code = code }

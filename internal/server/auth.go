package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"

	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Who may call the API (and /metrics):
//   - once any client key exists in the store (revoked and expired ones
//     included) or a bootstrap key (QWENRELAY_API_KEY) is set, every caller
//     needs a valid key, loopback included; a wrong, revoked or expired key
//     is always 401;
//   - only while no key exists at all and no bootstrap key is set may local
//     callers go without one; a request carrying Forwarded, X-Forwarded-For
//     or X-Real-Ip came through a proxy and is never local.
//
// Passthrough mode takes the Bearer token as the caller's own Qwen token.

// auth admits API callers by the rules above.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if s.opts.Passthrough {
			if token == "" {
				s.writeError(w, r, &api.Problem{Status: http.StatusUnauthorized, Class: api.ClassInvalidRequest, Code: "missing_api_key",
					Message: "Missing Authorization header: send 'Authorization: Bearer <your Qwen Chat token>' (this relay runs in passthrough mode)."})
				return
			}
			info(r.Context()).clientCred = &upstream.Credential{ID: "client:" + Fingerprint(token), Token: token}
			next.ServeHTTP(w, r)
			return
		}
		if token == "" {
			token = r.Header.Get("X-Api-Key")
		}
		if err := s.admitCaller(r, token); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// metricsAuth guards /metrics on the API listener with the same rule as
// the API. In passthrough mode, where any Bearer token is a Qwen token, only
// the bootstrap key or a local caller (while no bootstrap key is set) may
// read it.
func (s *Server) metricsAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			token = r.Header.Get("X-Api-Key")
		}
		var err error
		if s.opts.Passthrough {
			switch {
			case s.bootstrapKey(token):
			case s.opts.APIKey == "" && isLocal(r):
			default:
				err = unauthorized("missing_api_key", "Metrics are served only to callers on this machine, or with the bootstrap key (QWENRELAY_API_KEY), in passthrough mode.")
			}
		} else {
			err = s.admitCaller(r, token)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) bootstrapKey(token string) bool {
	return token != "" && s.opts.APIKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.APIKey)) == 1
}

func (s *Server) admitCaller(r *http.Request, token string) error {
	if s.bootstrapKey(token) {
		return nil
	}
	if token != "" && s.opts.Keys != nil {
		k, err := s.opts.Keys.Authenticate(r.Context(), token)
		switch {
		case err == nil:
			info(r.Context()).key = k
			return nil
		case errors.Is(err, keys.ErrRevoked):
			return unauthorized("invalid_api_key", "This API key has been revoked; ask the relay's operator for a new one (qwenrelay keys create).")
		case errors.Is(err, keys.ErrExpired):
			return unauthorized("invalid_api_key", "This API key has expired; ask the relay's operator for a new one (qwenrelay keys create).")
		case !errors.Is(err, keys.ErrUnknownKey):
			return err
		}
	}
	required := s.keyRequired(r.Context())
	switch {
	case !required && isLocal(r):
		return nil // a lone user on this machine, before any key exists
	case !required:
		return unauthorized("invalid_api_key", "This relay has no API key yet and accepts callers without one only from this machine "+
			"(requests that came through a proxy, with Forwarded, X-Forwarded-For or X-Real-Ip headers, count as remote); "+
			"the operator must create a key (qwenrelay keys create) or set QWENRELAY_API_KEY.")
	case token == "":
		return unauthorized("missing_api_key", "Missing API key: this relay needs one from every caller. Send 'Authorization: Bearer <key>' (or 'x-api-key: <key>') "+
			"with a key from the relay's operator (qwenrelay keys create, or QWENRELAY_API_KEY).")
	}
	return unauthorized("invalid_api_key", "Incorrect API key provided. Send 'Authorization: Bearer <key>' (or 'x-api-key: <key>') with a valid key "+
		"from the relay's operator (qwenrelay keys create, or QWENRELAY_API_KEY).")
}

// keyRequired reports whether callers must present a key: a bootstrap key
// is set or any client key exists. A store that cannot answer fails closed.
func (s *Server) keyRequired(ctx context.Context) bool {
	if s.opts.APIKey != "" {
		return true
	}
	if s.opts.Keys == nil {
		return false
	}
	any, err := s.opts.Keys.AnyKeys(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("could not tell whether client keys exist; requiring a key", "error", err)
		}
		return true
	}
	return any
}

func unauthorized(code, msg string) *api.Problem {
	return &api.Problem{Status: http.StatusUnauthorized, Class: api.ClassInvalidRequest, Code: code, Message: msg}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// isLocal reports whether the caller is on this machine: a loopback peer
// whose request carries no sign of having been relayed by a proxy.
func isLocal(r *http.Request) bool {
	if !isLoopback(r.RemoteAddr) {
		return false
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return true
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

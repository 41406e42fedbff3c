package qwenfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tokenTTL is the lifetime of tokens issued by signin (about 30 days, §5).
const tokenTTL = 30 * 24 * time.Hour

const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

type claims struct {
	ID                 string `json:"id"`
	LastPasswordChange int64  `json:"last_password_change"`
	Exp                int64  `json:"exp"`
}

type user struct {
	id, email, name string
	passHash        string // sha256 hex of the plain password
	created         int64
}

// MintToken returns an HS256 JWT {id, last_password_change, exp} for userID
// valid for ttl; ttl < 0 yields an already expired token.
func (s *Server) MintToken(userID string, ttl time.Duration) string {
	now := s.opts.Now()
	c, _ := json.Marshal(claims{ID: userID, LastPasswordChange: now.Add(-24 * time.Hour).Unix(), Exp: now.Add(ttl).Unix()})
	enc := base64.RawURLEncoding
	msg := enc.EncodeToString([]byte(jwtHeader)) + "." + enc.EncodeToString(c)
	return msg + "." + enc.EncodeToString(s.sign(msg))
}

func (s *Server) sign(msg string) []byte {
	m := hmac.New(sha256.New, s.opts.Secret)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verify checks a JWT and returns its claims. Verified tokens are cached
// (by their full text) so the HMAC is computed once per token.
func (s *Server) verify(tok string) (claims, bool) {
	if c, ok := s.tokens.get(tok); ok {
		return c, true
	}
	h, rest, ok1 := strings.Cut(tok, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h == "" || p == "" {
		return claims{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(h+"."+p)) {
		return claims{}, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(h)
	pb, err2 := base64.RawURLEncoding.DecodeString(p)
	var hdr struct{ Alg string }
	var c claims
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" ||
		json.Unmarshal(pb, &c) != nil || c.ID == "" {
		return claims{}, false
	}
	s.tokens.put(tok, c)
	return c, true
}

// requestToken returns the caller's token: "Authorization: Bearer <JWT>",
// else the "token" cookie (the browser's only carrier since 2026-07,
// docs/qwen-protocol.md §11.1). "" when there is neither.
func requestToken(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if strings.EqualFold(scheme, "Bearer") {
			if tok = strings.TrimSpace(tok); tok != "" {
				return tok
			}
		}
	}
	if c, err := r.Cookie("token"); err == nil {
		return strings.TrimSpace(c.Value)
	}
	return ""
}

// authenticate checks the caller's token (header or cookie); on failure it
// answers 401 with an Open WebUI style {"detail": …} body and reports false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok := requestToken(r)
	if tok == "" {
		s.stats.fail("auth")
		s.newOut(w, r).json(http.StatusUnauthorized, detailJSON("Not authenticated"))
		return "", false
	}
	c, ok := s.verify(tok)
	if !ok || c.Exp < s.opts.Now().Unix() {
		s.stats.fail("auth")
		s.newOut(w, r).json(http.StatusUnauthorized, detailJSON(DetailsInvalidToken))
		return "", false
	}
	return c.ID, true
}

// tokenCache remembers verified tokens; it is cleared when it grows large.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]claims
}

const tokenCacheMax = 4096

func (t *tokenCache) get(tok string) (claims, bool) {
	t.mu.RLock()
	c, ok := t.m[tok]
	t.mu.RUnlock()
	return c, ok
}

func (t *tokenCache) put(tok string, c claims) {
	t.mu.Lock()
	if t.m == nil || len(t.m) >= tokenCacheMax {
		t.m = map[string]claims{}
	}
	t.m[tok] = c
	t.mu.Unlock()
}

// AddUser registers an account for /api/v1/auths/signin (which expects the
// SHA-256 hex of password) and returns its user ID. Adding an existing
// e-mail changes its password and keeps its ID.
func (s *Server) AddUser(email, password string) (userID string) {
	sum := sha256.Sum256([]byte(password))
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	key := strings.ToLower(email)
	if u := s.users[key]; u != nil {
		u.passHash = hex.EncodeToString(sum[:])
		return u.id
	}
	name, _, _ := strings.Cut(email, "@")
	u := &user{id: newUUID(), email: email, name: name, passHash: hex.EncodeToString(sum[:]), created: s.opts.Now().Unix()}
	s.users[key] = u
	s.userIDs[u.id] = u
	return u.id
}

const (
	detailsBadCreds      = "The email or password provided is incorrect. Please check for typos and try logging in again."
	detailsNotRegistered = "This email is not registered. Please sign up first."
)

func (s *Server) handleSignin(w http.ResponseWriter, r *http.Request) {
	o := s.newOut(w, r)
	body, err := s.readBody(r, 64<<10)
	var req struct{ Email, Password string }
	if err != nil || json.Unmarshal(body, &req) != nil || req.Email == "" {
		o.json(http.StatusBadRequest, detailJSON(detailsBadCreds))
		return
	}
	s.usersMu.RLock()
	u := s.users[strings.ToLower(req.Email)]
	s.usersMu.RUnlock()
	switch {
	case u == nil:
		o.json(http.StatusBadRequest, detailJSON(detailsNotRegistered))
	case !strings.EqualFold(req.Password, u.passHash):
		// A plain-text password lands here too: the upstream wants sha256 hex.
		o.json(http.StatusBadRequest, detailJSON(detailsBadCreds))
	default:
		tok := s.MintToken(u.id, tokenTTL)
		o.json(http.StatusOK, s.userJSON(u, tok))
	}
}

func (s *Server) handleAuths(w http.ResponseWriter, r *http.Request, uid string) {
	s.usersMu.RLock()
	u := s.userIDs[uid]
	s.usersMu.RUnlock()
	if u == nil { // a minted token for an account never added
		u = &user{id: uid, email: uid + "@qwenfake.invalid", name: uid}
	}
	s.newOut(w, r).json(http.StatusOK, s.userJSON(u, requestToken(r)))
}

// userJSON is the Open WebUI signin / session user object.
func (s *Server) userJSON(u *user, tok string) []byte {
	exp := int64(0)
	if c, ok := s.verify(tok); ok {
		exp = c.Exp
	}
	b, _ := json.Marshal(map[string]any{
		"id": u.id, "email": u.email, "name": u.name, "role": "user",
		"profile_image_url": "", "token": tok, "token_type": "Bearer", "expires_at": exp,
		"permissions": map[string]any{"chat": map[string]any{"file_upload": true}},
	})
	return b
}

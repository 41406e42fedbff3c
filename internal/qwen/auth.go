package qwen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// SignIn logs in with e-mail and password (docs/qwen-protocol.md §5): the password is sent as
// its SHA-256 hex digest, the answer carries the JWT in "token". The call
// goes through via.HTTPClient when set (the account's own proxy, like its
// chats); via.Token is ignored. Refusals (wrong password, unknown account:
// HTTP 400 with "detail") are KindUnauthorized; other failures are
// classified like any call. Neither the password nor its digest appears in
// errors.
func (c *Client) SignIn(ctx context.Context, via upstream.Credential, email, password string) (string, error) {
	if email == "" || password == "" {
		return "", upstream.Errorf(upstream.KindBadRequest, "e-mail and password are required")
	}
	sum := sha256.Sum256([]byte(password))
	digest := hex.EncodeToString(sum[:])
	body, err := json.Marshal(map[string]string{"email": email, "password": digest})
	if err != nil {
		return "", err
	}
	answer, err := c.jsonCall(ctx, upstream.Credential{ID: via.ID, HTTPClient: via.HTTPClient}, http.MethodPost, "/api/v1/auths/signin", "/auth", body)
	if err != nil {
		err = redact(redact(err, password), digest)
		if ue, ok := upstream.AsError(err); ok && ue.Status == http.StatusBadRequest {
			cp := *ue
			cp.Kind = upstream.KindUnauthorized
			cp.Message = strings.Replace(cp.Message, "the upstream refused the request", "sign-in refused", 1)
			return "", &cp
		}
		return "", err
	}
	token := gjson.GetBytes(answer, "token").String()
	if token == "" {
		token = gjson.GetBytes(answer, "data.token").String()
	}
	if token == "" {
		return "", &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
			Message: "the sign-in answer carries no token"}
	}
	return token, nil
}

// TokenExpiry decodes the exp claim of a JWT without verifying it.
func TokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

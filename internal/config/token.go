package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CheckQwenToken reports whether tok looks like a Qwen Chat token: a JWT,
// three base64url parts separated by dots, whose middle part is a JSON
// object (docs/qwen-protocol.md §5: an HS256 JWT from the browser's local
// storage). It makes no upstream call, so a well-formed but revoked token
// passes. The error describes the problem without quoting the token.
func CheckQwenToken(tok string) error {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return errors.New("is empty")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("is not a JWT: it has %d dot-separated parts, want 3", len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return fmt.Errorf("is not a JWT: part %d is empty", i+1)
		}
		if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "=")); err != nil {
			return fmt.Errorf("is not a JWT: part %d is not base64url", i+1)
		}
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return errors.New("is not a JWT: its payload (part 2) is not a JSON object")
	}
	return nil
}

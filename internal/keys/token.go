package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Plain-key format: KeyPrefix followed by keyRandLen base62 characters.
const (
	KeyPrefix  = "sk-qr-"
	keyRandLen = 40
	// displayLen is how many random characters the display prefix keeps.
	displayLen = 4
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newPlainKey returns KeyPrefix + 40 uniformly random base62 characters
// from crypto/rand (rejection sampling keeps the distribution unbiased).
func newPlainKey() (string, error) {
	var sb strings.Builder
	sb.Grow(len(KeyPrefix) + keyRandLen)
	sb.WriteString(KeyPrefix)
	buf := make([]byte, 64)
	for n := 0; n < keyRandLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("keys: random: %w", err)
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to avoid modulo bias
				continue
			}
			sb.WriteByte(base62[b%62])
			n++
			if n == keyRandLen {
				break
			}
		}
	}
	return sb.String(), nil
}

// hashKey is the stored form of a plain key.
func hashKey(plain string) [sha256.Size]byte { return sha256.Sum256([]byte(plain)) }

// displayPrefix is the part of a plain key that may be shown ("sk-qr-Ab3d").
func displayPrefix(plain string) string {
	n := len(KeyPrefix) + displayLen
	if len(plain) < n {
		return plain
	}
	return plain[:n]
}

// wellFormed reports whether s looks like a key this package issued, so
// garbage never reaches the store.
func wellFormed(s string) bool {
	if len(s) != len(KeyPrefix)+keyRandLen || !strings.HasPrefix(s, KeyPrefix) {
		return false
	}
	for i := len(KeyPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// Package secrets protects qwenrelay's secrets at rest: an AES-256-GCM Box
// that seals account credentials before they reach the store, the master key
// that box is built from (LoadKey), and the helpers that keep secrets out of
// logs (HashKey, Mask).
//
// No error returned by this package contains a secret or a plaintext.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a master key in bytes (AES-256).
const KeySize = 32

// sealPrefix marks the format version of a sealed string: "v1:" followed by
// the standard base64 of nonce || ciphertext || GCM tag.
const sealPrefix = "v1:"

// ErrOpen is wrapped by every error Box.Open returns for input it cannot
// authenticate: a wrong key, tampered or truncated data, an unknown format.
var ErrOpen = errors.New("secrets: cannot open sealed value")

// Box seals and opens strings with AES-256-GCM. It is safe for concurrent
// use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box using key, which must be KeySize bytes long.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: new box: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: new box: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: new box: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext under a fresh random nonce and returns
// "v1:<base64(nonce||ciphertext)>". The empty string seals to the empty
// string, so optional secrets stay empty columns.
func (b *Box) Seal(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	ns := b.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secrets: seal: nonce: %w", err)
	}
	buf = b.aead.Seal(buf, buf[:ns], []byte(plaintext), []byte(sealPrefix))
	return sealPrefix + base64.StdEncoding.EncodeToString(buf), nil
}

// Open reverses Seal. The empty string opens to the empty string. Any input
// that does not authenticate under this Box's key yields an error wrapping
// ErrOpen.
func (b *Box) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	body, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", fmt.Errorf("%w: unknown format (want %q prefix)", ErrOpen, sealPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: malformed base64", ErrOpen)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return "", fmt.Errorf("%w: truncated", ErrOpen)
	}
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(sealPrefix))
	if err != nil {
		return "", fmt.Errorf("%w: wrong key or tampered data", ErrOpen)
	}
	return string(plain), nil
}

// HashKey returns the SHA-256 of a plain client key, the only form in which
// client keys are stored.
func HashKey(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// Mask returns a form of secret fit for logs and admin listings: a few
// leading and trailing characters around "…" ("eyJh…x9Q2"), never more than
// 8 characters of the secret and never more than a third of it. Short
// secrets become "****"; the empty string stays empty.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	r := []rune(secret)
	k := min(4, len(r)/6)
	if k == 0 {
		return "****"
	}
	return string(r[:k]) + "…" + string(r[len(r)-k:])
}

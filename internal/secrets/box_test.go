package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := NewBox(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBoxKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewBox(make([]byte, n)); err == nil {
			t.Errorf("NewBox(%d bytes) succeeded", n)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := testBox(t, 1)
	for _, plain := range []string{"", "x", "eyJhbGciOiJIUzI1NiJ9.payload.sig", "пароль ✓", strings.Repeat("z", 100000)} {
		sealed, err := b.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if plain == "" {
			if sealed != "" {
				t.Fatalf("Seal(\"\") = %q, want empty", sealed)
			}
		} else {
			if !strings.HasPrefix(sealed, "v1:") {
				t.Fatalf("sealed value lacks version prefix: %.10q", sealed)
			}
			// Only plaintexts long enough not to occur in random base64 by
			// chance (a one-letter "x" often does: that made this test flaky).
			if len(plain) >= 8 && strings.Contains(sealed, plain) {
				t.Fatal("sealed value contains the plaintext")
			}
		}
		got, err := b.Open(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if got != plain {
			t.Fatalf("round trip changed the value (len %d → %d)", len(plain), len(got))
		}
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	b := testBox(t, 1)
	x, _ := b.Seal("same")
	y, _ := b.Seal("same")
	if x == y {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestOpenRejects(t *testing.T) {
	b := testBox(t, 1)
	const secret = "super-secret-token"
	sealed, err := b.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 0x01
		return "v1:" + base64.StdEncoding.EncodeToString(c)
	}
	other, _ := testBox(t, 2).Seal(secret)
	cases := map[string]string{
		"nonce tampered":      flip(0),
		"ciphertext tampered": flip(len(raw) / 2),
		"tag tampered":        flip(len(raw) - 1),
		"truncated":           "v1:" + base64.StdEncoding.EncodeToString(raw[:10]),
		"no prefix":           strings.TrimPrefix(sealed, "v1:"),
		"unknown version":     "v9:" + strings.TrimPrefix(sealed, "v1:"),
		"bad base64":          "v1:!!!" + secret,
		"plaintext":           secret,
		"other key":           other,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := b.Open(in)
			if err == nil {
				t.Fatalf("Open succeeded with %q", got)
			}
			if !errors.Is(err, ErrOpen) {
				t.Errorf("error %v does not wrap ErrOpen", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the plaintext: %v", err)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	h := HashKey("sk-qr-abc")
	if len(h) != 32 {
		t.Fatalf("len = %d", len(h))
	}
	if !bytes.Equal(h, HashKey("sk-qr-abc")) || bytes.Equal(h, HashKey("sk-qr-abd")) {
		t.Fatal("hash is not a deterministic function of the key")
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "****"},
		{"short-secret", "sh…et"}, // 12 chars: 2 + 2
		{"eyJhbGciOiJIUzI1NiJ9.x9Q2", "eyJh…x9Q2"},
		{strings.Repeat("k", 200), "kkkk…kkkk"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for n := 1; n < 64; n++ {
		s := strings.Repeat("s", n)
		shown := strings.Count(Mask(s), "s")
		if shown > 8 || (shown > 0 && shown*3 > n) {
			t.Errorf("Mask of %d chars shows %d of them", n, shown)
		}
	}
}

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// startEmulator serves the real emulator in process.
func startEmulator(t *testing.T, opts qwenfake.Options) (*qwenfake.Server, string) {
	t.Helper()
	fake := qwenfake.New(opts)
	srv := serve(t, fake)
	t.Cleanup(fake.Close) // runs before srv.Close
	return fake, srv.URL
}

func TestDirectAgainstEmulator(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name string
		opts qwenfake.Options
	}{
		{"plain", qwenfake.Options{Secret: []byte("smoke")}},
		{"split writes", qwenfake.Options{Secret: []byte("smoke"), SplitWrites: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := startEmulator(t, tt.opts)
			tokens := mintTokens(tt.opts.Secret, 2)
			s := newDirectClient(url, tokens, transport(t, 4))
			l := load{n: 12, c: 3, tokens: 40, delay: time.Millisecond, timeout: time.Minute, seed: "smoke", answer: expectedAnswer}
			r := l.run(context.Background(), "direct", s)
			if r.OK != 12 || r.Errors != 0 || r.Corrupted != 0 {
				t.Fatalf("ok/errors/corrupted = %d/%d/%d, want 12/0/0: %v %v",
					r.OK, r.Errors, r.Corrupted, r.ErrorSamples, r.CorruptSamples)
			}
		})
	}
}

func TestDirectDetectsWrongAnswerFromEmulator(t *testing.T) {
	checkLeaks(t)
	_, url := startEmulator(t, qwenfake.Options{Secret: []byte("smoke")})
	s := newDirectClient(url, mintTokens([]byte("smoke"), 1), transport(t, 2))
	// Expecting another seed's text: every answer must be flagged.
	wrong := func(seed string, n int) string { return expectedAnswer(seed+"x", n) }
	l := load{n: 3, c: 1, tokens: 8, timeout: time.Minute, seed: "w", answer: wrong}
	if r := l.run(context.Background(), "direct", s); r.Corrupted != 3 {
		t.Fatalf("corrupted = %d, want 3: %+v", r.Corrupted, r)
	}
}

func TestDirectRejectedWithForeignToken(t *testing.T) {
	checkLeaks(t)
	_, url := startEmulator(t, qwenfake.Options{Secret: []byte("smoke")})
	s := newDirectClient(url, mintTokens([]byte("another secret"), 1), transport(t, 2))
	if _, err := s.stream(context.Background(), prompt("f", 2, 0), nil); err == nil {
		t.Fatal("a token signed with another secret was accepted")
	}
}

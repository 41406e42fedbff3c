package bench

import (
	"fmt"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// tokenTTL outlives any run.
const tokenTTL = 24 * time.Hour

// mintTokens makes n emulator tokens for distinct users, signed with secret.
func mintTokens(secret []byte, n int) []string {
	srv := qwenfake.New(qwenfake.Options{Secret: secret})
	defer srv.Close()
	out := make([]string, n)
	for i := range out {
		out[i] = srv.MintToken(fmt.Sprintf("bench-user-%d", i), tokenTTL)
	}
	return out
}

// expectedAnswer is the exact text the emulator streams for a request.
func expectedAnswer(seed string, tokens int) string { return qwenfake.AnswerText(seed, tokens) }

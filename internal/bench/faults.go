package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// The fault-soak scenario ("--scenario faults") drives the relay with a mix
// of normal requests and requests whose upstream answer fails once, through
// the emulator's per-request directive "[[qwenfake fail=MODE times=1 id=…]]"
// (internal/qwenfake/doc.go). Each request's id is unique, so the first
// upstream attempt fails and any retry of the same request succeeds: a relay
// that retries before the first byte answers every such request exactly.

// faultClass says how a planned request fails upstream.
type faultClass string

const (
	classClean faultClass = "clean" // no fault
	classSoft  faultClass = "soft"  // a one-off transient failure: must be retried
	classHard  faultClass = "hard"  // a one-off account failure the relay repairs itself (re-login)
)

// faultKind is one kind of injected upstream failure.
type faultKind struct {
	Name  string // label in the report
	Mode  string // qwenfake failure mode
	Class faultClass
	// MidAnswer: for non-streamed requests the failure comes after some
	// content frames (nothing has reached the client yet, so a retry is
	// still possible); streamed requests fail before any content.
	MidAnswer bool
}

// midAnswerFrames is how many content frames a mid-answer failure lets
// through on a non-streamed request.
const midAnswerFrames = 3

// softKinds are the one-off soft faults, in report order. The stall needs
// the relay's first_byte_timeout set short (faultFirstByteTimeout).
var softKinds = []faultKind{
	{Name: "empty", Mode: qwenfake.ModeEmpty, Class: classSoft},
	{Name: "think_only", Mode: qwenfake.ModeThinkOnly, Class: classSoft},
	{Name: "bad_request", Mode: qwenfake.ModeBadRequest, Class: classSoft},
	{Name: "http500", Mode: qwenfake.ModeHTTP500, Class: classSoft},
	{Name: "http502", Mode: qwenfake.ModeHTTP502, Class: classSoft},
	{Name: "http429", Mode: qwenfake.ModeHTTP429, Class: classSoft},
	{Name: "error_frame", Mode: qwenfake.ModeErrorFrame, Class: classSoft, MidAnswer: true},
	{Name: "malformed", Mode: qwenfake.ModeMalformed, Class: classSoft, MidAnswer: true},
	{Name: "cut", Mode: qwenfake.ModeCut, Class: classSoft, MidAnswer: true},
	{Name: "stall", Mode: qwenfake.ModeStall, Class: classSoft},
}

// hardKinds are the one-off hard faults a healthy relay recovers from by
// itself: a rejected token on an account with a password (re-login).
var hardKinds = []faultKind{
	{Name: "http401", Mode: qwenfake.ModeHTTP401, Class: classHard},
}

// faultFirstByteTimeout is the relay's first_byte_timeout during the soak,
// so a first-byte stall costs seconds, not the default minute.
const faultFirstByteTimeout = 2 * time.Second

// faultMix is the share of requests carrying each class of fault.
type faultMix struct {
	Soft float64 `json:"soft_share"`
	Hard float64 `json:"hard_share"`
}

var defaultFaultMix = faultMix{Soft: 0.10, Hard: 0.01}

// plannedRequest is one request of a round.
type plannedRequest struct {
	Stream  bool
	Kind    faultKind // Class clean: no fault
	Seed    string    // answer text seed, unique
	FaultID string    // directive id, unique; "" when clean
}

// after is the directive's after= value.
func (p plannedRequest) after() int {
	if p.Kind.MidAnswer && !p.Stream {
		return midAnswerFrames
	}
	return 0
}

// prompt is the user message: the answer directive, plus the fault.
func (p plannedRequest) prompt(tokens int) string {
	if p.Kind.Class == classClean {
		return prompt(p.Seed, tokens, 0)
	}
	// A 429's Retry-After is honoured for every request on the account, so
	// the soak's are short (1 s): seven-second ones would idle a one-account
	// round for most of its time.
	return fmt.Sprintf("Fault soak request, please answer. [[qwenfake tokens=%d seed=%s fail=%s times=1 id=%s after=%d retry_after=1]]",
		tokens, p.Seed, p.Kind.Mode, p.FaultID, p.after())
}

// planFaults lays out n requests: round(n×mix.Soft) soft faults cycling
// through softKinds, round(n×mix.Hard) hard ones, the rest clean. Streamed
// and non-streamed requests alternate within each kind. The order is then
// shuffled. The plan depends only on seed, n and mix; seed also prefixes
// every answer seed and fault id.
func planFaults(seed string, n int, mix faultMix) []plannedRequest {
	soft := min(n, int(math.Round(float64(n)*mix.Soft)))
	hard := min(n-soft, int(math.Round(float64(n)*mix.Hard)))
	clean := []faultKind{{Name: string(classClean), Class: classClean}}
	out := make([]plannedRequest, 0, n)
	for _, seg := range []struct {
		count int
		kinds []faultKind
	}{{soft, softKinds}, {hard, hardKinds}, {n - soft - hard, clean}} {
		l := len(seg.kinds)
		for j := range seg.count {
			// The j/l term flips the stream flag on each pass over the
			// kinds, so every kind gets both even when l is even.
			out = append(out, plannedRequest{Stream: (j%l+j/l)%2 == 0, Kind: seg.kinds[j%l]})
		}
	}
	rng := rand.New(rand.NewPCG(seedWords(seed)))
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		out[i].Seed = fmt.Sprintf("%s-%d", seed, i)
		if out[i].Kind.Class != classClean {
			out[i].FaultID = fmt.Sprintf("%s-f%d", seed, i)
		}
	}
	return out
}

// seedWords derives the two PCG seed words from a string.
func seedWords(s string) (uint64, uint64) {
	h := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])
}

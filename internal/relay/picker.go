package relay

import (
	"context"
	"slices"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Lease is the right to use one credential for one upstream attempt.
type Lease interface {
	Credential() upstream.Credential
	// Release returns the credential with the attempt's outcome: nil on
	// success, the upstream error otherwise. Context errors (the client went
	// away) must not be held against the credential. Release must not
	// block on slow work (store writes, sign-ins): it runs on the request's
	// close path.
	Release(outcome error)
}

// Want is what one Acquire asks for.
type Want struct {
	Model string
	// Avoid lists credentials that failed softly for this request: they are
	// used again only when no other credential is eligible.
	Avoid []string
	// Exclude lists credentials that failed for a reason bound to them
	// (policy SameCredential false): never used again for this request.
	Exclude []string
	// Account, when > 0, restricts the pool to that account (a video task
	// is polled by the account that submitted it, docs/qwen-protocol.md §6.5).
	Account int64
}

// Excludes reports whether id must not be used.
func (w *Want) Excludes(id string) bool { return slices.Contains(w.Exclude, id) }

// Avoids reports whether id should be used only as a last resort.
func (w *Want) Avoids(id string) bool { return slices.Contains(w.Avoid, id) }

// Picker chooses credentials.
type Picker interface {
	Acquire(ctx context.Context, w Want) (Lease, error)
}

// NoCredentialError says why no credential could be used.
type NoCredentialError struct {
	Message    string
	RetryAfter time.Duration // > 0 when every credential is unavailable until then
}

func (e *NoCredentialError) Error() string { return e.Message }

// SinglePicker always hands out one credential (passthrough mode: the
// client's own token), unless the request excluded it.
type SinglePicker struct{ Cred upstream.Credential }

// Acquire implements Picker.
func (p SinglePicker) Acquire(ctx context.Context, w Want) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w.Excludes(p.Cred.ID) {
		return nil, &NoCredentialError{Message: "the only credential already failed for this request"}
	}
	return singleLease(p), nil
}

type singleLease SinglePicker

func (l singleLease) Credential() upstream.Credential { return l.Cred }
func (l singleLease) Release(error)                   {}

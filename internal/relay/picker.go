package relay

import (
	"context"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Lease is the right to use one credential for one upstream attempt.
type Lease interface {
	Credential() upstream.Credential
	// Release returns the credential with the attempt's outcome: nil on
	// success, the upstream error otherwise. Context errors (the client went
	// away) must not be held against the credential.
	Release(outcome error)
}

// Picker chooses credentials. tried holds the IDs already used by this
// request, so a retry can move to another one.
type Picker interface {
	Acquire(ctx context.Context, model string, tried []string) (Lease, error)
}

// NoCredentialError says why no credential could be used.
type NoCredentialError struct {
	Message    string
	RetryAfter time.Duration // > 0 when every credential is cooling down
}

func (e *NoCredentialError) Error() string { return e.Message }

// SinglePicker always hands out one credential (passthrough mode: the
// client's own token).
type SinglePicker struct{ Cred upstream.Credential }

// Acquire implements Picker.
func (p SinglePicker) Acquire(ctx context.Context, _ string, _ []string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return singleLease(p), nil
}

type singleLease SinglePicker

func (l singleLease) Credential() upstream.Credential { return l.Cred }
func (l singleLease) Release(error)                   {}

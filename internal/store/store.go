// Package store declares what qwenrelay keeps: upstream accounts, client
// keys and usage records, behind small interfaces so a shared backend can be
// added without touching the pool or the handlers. Backends live in
// subpackages (store/sqlite is the embedded default); only cmd/ and
// internal/app import them.
//
// Secrets never leave a backend in the clear except in the fields documented
// as such: Account.Token, Account.Password and Account.Proxy are decrypted in
// memory and encrypted at rest; client keys are stored only as hashes.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a unique field (account name, key hash) is taken.
var ErrConflict = errors.New("store: already exists")

// ErrVersionConflict is returned by UpdateAccount when the record changed
// since the caller read it (its Version is no longer the stored one): read
// it again, apply the change to the fresh record and write again. It wraps
// ErrConflict, so callers that only report conflicts need not tell them
// apart.
var ErrVersionConflict = fmt.Errorf("store: the record changed since it was read: %w", ErrConflict)

// AccountState is the life-cycle state of an upstream account.
type AccountState string

// Account states.
const (
	StateActive      AccountState = "active"      // eligible
	StateCooling     AccountState = "cooling"     // rate-limited or out of quota until CoolUntil
	StateQuarantined AccountState = "quarantined" // captcha / WAF: needs a person (see PunishURL)
	StateInvalid     AccountState = "invalid"     // token or sign-in rejected
	StateDisabled    AccountState = "disabled"    // switched off by the admin
)

// Account is one Qwen Chat account.
type Account struct {
	ID          int64
	Name        string // unique, human label ("alice@example.com" or "account-3")
	Email       string // empty for token-only accounts
	Password    string // secret; empty for token-only accounts
	Token       string // secret; the current JWT
	TokenExpiry time.Time
	Proxy       string // secret (may embed credentials); outbound proxy URL, "" = none

	State       AccountState
	StateReason string
	StateSince  time.Time
	CoolUntil   time.Time // meaningful in StateCooling
	PunishURL   string    // captcha URL kept for the admin (StateQuarantined)

	MaxConcurrent int           // 0 = the pool default
	MinInterval   time.Duration // 0 = the pool default
	Models        []string      // models the account can use; empty = unknown (all)

	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastUsedAt time.Time

	// Version counts the writes of the record: 1 after CreateAccount, one
	// more after each UpdateAccount. UpdateAccount is a compare-and-swap on
	// it, so a writer never overwrites a change it has not seen.
	Version int64
}

// AccountStore keeps accounts.
type AccountStore interface {
	CreateAccount(ctx context.Context, a *Account) error // sets ID, Version (1), CreatedAt, UpdatedAt
	// UpdateAccount writes every field of a if the stored record still has
	// a.Version, then increments a.Version and sets UpdatedAt. It returns
	// ErrNotFound if the account is gone (it never recreates one) and
	// ErrVersionConflict if the record changed since a was read.
	UpdateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, id int64) (*Account, error)
	ListAccounts(ctx context.Context) ([]*Account, error) // ordered by ID
	DeleteAccount(ctx context.Context, id int64) error
}

// Key is a client API key. The plain key is never stored: only its SHA-256
// hash, and a short prefix for display.
type Key struct {
	ID              int64
	Name            string
	Hash            []byte // sha256 of the plain key
	Prefix          string // first characters of the plain key, for display ("sk-qr-Ab3d")
	CreatedAt       time.Time
	ExpiresAt       time.Time // zero = never
	RevokedAt       time.Time // zero = active
	AllowedModels   []string  // empty = all models
	RPM             int       // requests per minute, 0 = unlimited
	MaxConcurrent   int       // 0 = unlimited
	DailyTokenQuota int64     // prompt+completion tokens per UTC day, 0 = unlimited
}

// KeyStore keeps client keys.
type KeyStore interface {
	CreateKey(ctx context.Context, k *Key) error // sets ID and CreatedAt
	UpdateKey(ctx context.Context, k *Key) error // name, expiry, limits, models, revocation
	GetKey(ctx context.Context, id int64) (*Key, error)
	GetKeyByHash(ctx context.Context, hash []byte) (*Key, error)
	ListKeys(ctx context.Context) ([]*Key, error)
}

// UsageRecord is one request's accounting row.
type UsageRecord struct {
	ID               int64
	Time             time.Time // when the request started
	RequestID        string
	KeyID            int64 // 0 = bootstrap/admin key or loopback caller
	AccountID        int64 // 0 = none (failed before an account was used, or passthrough)
	Model            string
	Stream           bool
	PromptTokens     int
	CompletionTokens int
	ReasoningTokens  int
	TTFT             time.Duration
	Duration         time.Duration
	Status           int    // HTTP status sent (499 = client left)
	ErrorKind        string // "" on success
}

// UsageFilter selects usage rows; zero fields match everything.
type UsageFilter struct {
	KeyID     int64
	AccountID int64
	Model     string
	From, To  time.Time // From inclusive, To exclusive
	Limit     int       // rows, for QueryUsage; 0 = a backend default (1000)
}

// DailyTotal sums usage over one UTC day.
type DailyTotal struct {
	Day              string // YYYY-MM-DD (UTC)
	Requests         int64
	Errors           int64
	PromptTokens     int64
	CompletionTokens int64
	ReasoningTokens  int64
}

// UsageStore keeps usage records.
type UsageStore interface {
	InsertUsage(ctx context.Context, rows []UsageRecord) error // one transaction
	QueryUsage(ctx context.Context, f UsageFilter) ([]UsageRecord, error)
	DailyTotals(ctx context.Context, f UsageFilter) ([]DailyTotal, error)
	KeyTokensSince(ctx context.Context, keyID int64, since time.Time) (int64, error) // prompt+completion
	DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error)
}

// Store is everything a backend provides.
type Store interface {
	AccountStore
	KeyStore
	UsageStore
	Close() error
}

// StoredResponse is one answer of the OpenAI Responses API, kept so a later
// request can continue it (previous_response_id) and GET can return it. The
// store treats Conversation and Body as opaque bytes owned by the codec.
type StoredResponse struct {
	ID        string // "resp_…"
	CreatedAt time.Time
	ExpiresAt time.Time // the record is gone for readers from then on; zero = never
	Model     string
	// Conversation is the codec's encoding of the conversation up to and
	// including this answer.
	Conversation []byte
	// Body is the rendered Response object, as GET returns it.
	Body []byte
}

// ResponseStore keeps stored Responses API answers. A record whose
// ExpiresAt has passed is not found, whether or not it was deleted yet.
type ResponseStore interface {
	PutResponse(ctx context.Context, r *StoredResponse) error // insert, or replace the record with the same ID
	GetResponse(ctx context.Context, id string) (*StoredResponse, error)
	DeleteResponse(ctx context.Context, id string) error // ErrNotFound when missing or expired
	// DeleteExpiredResponses removes the records whose ExpiresAt is at or
	// before t and returns how many went.
	DeleteExpiredResponses(ctx context.Context, t time.Time) (int64, error)
}

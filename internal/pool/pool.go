// Package pool manages the upstream Qwen accounts: it picks one for each
// upstream attempt (least in flight, then least recently used) under a
// per-account concurrency cap and pacing, applies the outcome of every
// attempt (cool-down on rate limit, quota and empty answers, quarantine on
// captcha or WAF, re-login or invalidation on a rejected token), re-logs in
// accounts before their token expires, probes cooling accounts, and keeps
// every state change in the store so it survives restarts and is shared.
//
// A Pool implements relay.Picker. Live counters (in flight, pacing) live
// behind LiveState; account records behind store.AccountStore.
package pool

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Options tune the pool. Zero values take the defaults given per field.
type Options struct {
	MaxConcurrent int // per-account cap, default 2 (Account.MaxConcurrent overrides)
	// Rate and Burst pace request starts on one account with a token
	// bucket (see Pace): Rate starts per second, default 1 (< 0 = no
	// pacing), Burst starts at once, default 3. Account.MinInterval
	// overrides them per account (PaceEvery).
	Rate  float64
	Burst int
	// MinInterval is deprecated: when > 0 it replaces Rate and Burst with a
	// minimum time between any two starts on one account (PaceEvery); < 0
	// is no pacing.
	MinInterval        time.Duration
	AcquireTimeout     time.Duration  // wait for a free slot when every eligible account is busy, default 30s
	PenaltyBase        time.Duration  // soft penalty after one soft failure, doubled per failure in a row, default 2s
	PenaltyMax         time.Duration  // cap of the soft penalty, default 2m
	QuotaResetLocation *time.Location // daily quota without a usable num: cool until the next 00:10 here, default Asia/Shanghai
	RefreshBefore      time.Duration  // re-login accounts with a password this long before token expiry, default 24h
	HealthInterval     time.Duration  // probe cooling accounts (and quarantined ones when due), default 10m
	QuarantineProbe    time.Duration  // first re-probe of a quarantined account, doubling after each failure, default 10m; < 0 = never
	QuarantineProbeMax time.Duration  // longest time between two re-probes of a quarantined account, default 6h
	ReloadInterval     time.Duration  // re-read the store, default 15s
	CallTimeout        time.Duration  // bound of one sign-in, probe or store write made outside a request, default 30s
	// BaseTransport is cloned for accounts with their own proxy; nil clones
	// http.DefaultTransport.
	BaseTransport *http.Transport
	Now           func() time.Time
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 2
	}
	if o.Rate == 0 {
		o.Rate = 1
	}
	if o.Burst <= 0 {
		o.Burst = 3
	}
	def(&o.AcquireTimeout, 30*time.Second)
	def(&o.PenaltyBase, 2*time.Second)
	def(&o.PenaltyMax, 2*time.Minute)
	def(&o.RefreshBefore, 24*time.Hour)
	def(&o.HealthInterval, 10*time.Minute)
	def(&o.QuarantineProbe, 10*time.Minute)
	def(&o.QuarantineProbeMax, 6*time.Hour)
	def(&o.ReloadInterval, 15*time.Second)
	def(&o.CallTimeout, 30*time.Second)
	if o.QuotaResetLocation == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600)
		}
		o.QuotaResetLocation = loc
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// pace is the pool-wide pacing of one account.
func (o Options) pace() Pace {
	switch {
	case o.MinInterval > 0:
		return PaceEvery(o.MinInterval)
	case o.MinInterval < 0 || o.Rate < 0:
		return Pace{}
	}
	return Pace{Rate: o.Rate, Burst: o.Burst}
}

// Upstream is what the pool needs from the provider (*qwen.Client).
type Upstream interface {
	// SignIn goes through via.HTTPClient (the account's proxy) when set.
	SignIn(ctx context.Context, via upstream.Credential, email, password string) (string, error)
	ListModels(ctx context.Context, cred upstream.Credential) ([]upstream.Model, error)
}

// Observer is told of every state change (metrics). An account appearing
// is a change from "", a deleted one a change to "", so a gauge per state
// can be kept with +1/-1.
type Observer interface {
	StateChange(from, to store.AccountState)
}

// Pool is the account pool. It is safe for concurrent use.
type Pool struct {
	opts    Options
	pace    Pace // opts.pace()
	st      store.AccountStore
	up      Upstream
	live    LiveState
	obs     Observer
	log     *slog.Logger
	clients *clientCache
	logins  singleflight.Group
	bufs    sync.Pool      // *[]candidate, reused by Acquire
	bg      sync.WaitGroup // background saves and sign-ins (see Wait)

	mu      sync.Mutex
	entries map[int64]*entry
	order   []*entry      // by ID
	wake    chan struct{} // closed and replaced when a slot may have freed
	saveSeq uint64        // counts the pool's own writes (see Load)
}

var _ relay.Picker = (*Pool)(nil)

// entry is one account in memory. Fields are guarded by Pool.mu except
// saveMu, which orders the writes of this account to the store.
type entry struct {
	acct     store.Account       // current record, secrets included
	saved    store.Account       // last record read from or written to the store
	models   map[string]struct{} // lower-cased acct.Models; nil = all
	gen      uint64              // token generation, bumped on every new token
	id       string              // credential ID of gen (see credID)
	idGen    uint64
	client   *http.Client // proxy client, nil = the provider's
	lastPick time.Time    // last Acquire, for least-recently-used ties
	consec   int          // soft failures in a row (reset by a success)
	// penaltyUntil: a soft failure lowers the account's priority until
	// then (it still serves when no better account is eligible).
	penaltyUntil time.Time
	// retryAfter: the upstream asked not to be called before then.
	retryAfter time.Time
	relogging  bool // a sign-in after a rejected token is running
	// authStrikes counts rejected tokens since the last success.
	authStrikes int
	requests    int64
	failures    int64
	lastWarn    time.Time // last token expiry warning
	dirty       bool      // LastUsedAt changed since the last save
	savedSeq    uint64    // Pool.saveSeq of the last save
	removed     bool
	quar        quarantineProbe // re-probe schedule while quarantined (run.go)
	writing     bool            // a save's write is in flight (state.go)
	saveMu      sync.Mutex
	// saveQueued: a background write of this record is queued (saveLater).
	saveQueued atomic.Bool
}

// New builds a Pool; call Load, then Run in the background. obs and log may
// be nil.
func New(opts Options, st store.AccountStore, up Upstream, live LiveState, obs Observer, log *slog.Logger) *Pool {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if live == nil {
		live = NewMemoryLive()
	}
	return &Pool{
		opts: opts, pace: opts.pace(), st: st, up: up, live: live, obs: obs, log: log,
		clients: newClientCache(opts.BaseTransport),
		entries: map[int64]*entry{},
		wake:    make(chan struct{}),
		bufs:    sync.Pool{New: func() any { return new([]candidate) }},
	}
}

// Load reads the accounts from the store and merges them into the pool:
// new accounts are added, deleted ones dropped, and records changed by
// someone else (the CLI, another relay process) adopted.
func (p *Pool) Load(ctx context.Context) error {
	p.mu.Lock()
	start := p.saveSeq
	p.mu.Unlock()
	list, err := p.st.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("pool: loading accounts: %w", err)
	}
	seen := make(map[int64]bool, len(list))
	var changes []change
	p.mu.Lock()
	for _, a := range list {
		seen[a.ID] = true
		if e := p.entries[a.ID]; e != nil {
			// A record this pool wrote after the listing began is newer;
			// one it is writing now is installed by the save itself.
			if e.savedSeq <= start && !e.writing && !sameRecord(a, &e.saved) {
				changes = append(changes, p.adoptLocked(e, a))
			}
			continue
		}
		e := &entry{gen: 1}
		p.setRecordLocked(e, a)
		p.entries[a.ID] = e
		changes = append(changes, change{id: a.ID, name: a.Name, to: a.State, reason: a.StateReason, loaded: true})
	}
	for id, e := range p.entries {
		if !seen[id] && e.savedSeq <= start {
			e.removed = true
			delete(p.entries, id)
			changes = append(changes, change{id: id, name: e.acct.Name, from: e.acct.State, reason: "deleted from the store", loaded: true})
		}
	}
	p.rebuildOrderLocked()
	p.mu.Unlock()
	for _, c := range changes {
		p.report(ctx, c)
	}
	p.notify()
	return nil
}

// adoptLocked takes a record changed outside this process (the CLI,
// another relay) while keeping the changes made here since the last save.
func (p *Pool) adoptLocked(e *entry, rec *store.Account) change {
	c := change{id: rec.ID, name: rec.Name, from: e.acct.State, loaded: true}
	oldToken, oldProxy := e.acct.Token, e.acct.Proxy
	e.acct = merge(rec, &e.saved, &e.acct)
	e.saved = cloneAccount(rec)
	e.models = modelSet(e.acct.Models)
	if e.acct.Token != oldToken {
		e.gen++
		e.consec = 0
	}
	if e.acct.Proxy != oldProxy {
		p.setClientLocked(e)
	}
	c.to, c.reason = e.acct.State, e.acct.StateReason
	return c
}

// setRecordLocked installs a store record as the entry's current and saved
// record.
func (p *Pool) setRecordLocked(e *entry, a *store.Account) {
	e.acct = cloneAccount(a)
	e.saved = cloneAccount(a)
	e.models = modelSet(a.Models)
	p.setClientLocked(e)
}

func (p *Pool) setClientLocked(e *entry) {
	client, err := p.clients.get(e.acct.Proxy)
	if err != nil {
		p.log.Warn("account proxy ignored", slog.Int64("account", e.acct.ID), slog.String("error", err.Error()))
	}
	e.client = client
}

func (p *Pool) rebuildOrderLocked() {
	p.order = p.order[:0]
	for _, e := range p.entries {
		p.order = append(p.order, e)
	}
	slices.SortFunc(p.order, func(a, b *entry) int { return int(a.acct.ID - b.acct.ID) })
}

// notify wakes every Acquire waiting for a slot.
func (p *Pool) notify() {
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

func modelSet(models []string) map[string]struct{} {
	if len(models) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(models))
	for _, s := range models {
		m[strings.ToLower(s)] = struct{}{}
	}
	return m
}

func cloneAccount(a *store.Account) store.Account {
	c := *a
	c.Models = slices.Clone(a.Models)
	return c
}

// sameRecord compares what the pool cares about in two records.
func sameRecord(a, b *store.Account) bool {
	return a.Name == b.Name && a.Email == b.Email && a.Password == b.Password && a.Token == b.Token &&
		a.TokenExpiry.Equal(b.TokenExpiry) && a.Proxy == b.Proxy && a.State == b.State &&
		a.StateReason == b.StateReason && a.CoolUntil.Equal(b.CoolUntil) && a.PunishURL == b.PunishURL &&
		a.MaxConcurrent == b.MaxConcurrent && a.MinInterval == b.MinInterval && slices.Equal(a.Models, b.Models)
}

package responses

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/store"
)

// Store keeps the answers for previous_response_id and GET/DELETE.
type Store = store.ResponseStore

// DefaultRetention is how long a stored answer is kept when the setting
// (responses_retention) is zero.
const DefaultRetention = 30 * 24 * time.Hour

// sweepEvery is how often Finished removes expired answers.
const sweepEvery = time.Hour

// Codec is the OpenAI Responses API surface (POST /v1/responses). It is
// safe for concurrent use.
type Codec struct {
	st        Store // nil: nothing is kept
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	lastSweep atomic.Int64 // unix nanoseconds
	// noWebSearch: a web search tool is dropped like the other hosted
	// tools instead of switching search on.
	noWebSearch bool
}

var (
	_ api.Codec    = (*Codec)(nil)
	_ api.Finisher = (*Codec)(nil)
)

// Option configures a Codec.
type Option func(*Codec)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(c *Codec) { c.now = now } }

// WithWebSearch says whether a declared web search tool switches on the
// upstream's search mode (the default) or is dropped like the other
// hosted tools (for agents that declare it on every request).
func WithWebSearch(on bool) Option { return func(c *Codec) { c.noWebSearch = !on } }

// WithLogger sets the logger of store failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Codec) { c.log = l } }

// New returns the codec. st may be nil (answers are then never kept and
// previous_response_id always fails with 404); retention <= 0 selects
// DefaultRetention.
func New(st Store, retention time.Duration, opts ...Option) *Codec {
	if retention <= 0 {
		retention = DefaultRetention
	}
	c := &Codec{st: st, retention: retention, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	c.lastSweep.Store(c.now().UnixNano())
	return c
}

// Name names the surface in logs, metrics and usage rows.
func (c *Codec) Name() string { return "responses" }

// NewID returns "resp_" and 48 random hex digits. Output item ids are made
// from the same digits, so an item id names its response (item_reference).
func (c *Codec) NewID() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "resp_" + hex.EncodeToString(b[:])
}

// Error renders a problem as OpenAI's {"error":{…}} with the problem's status.
func (c *Codec) Error(p *api.Problem) (int, []byte) {
	typ := string(p.Class)
	if p.Class == api.ClassNotFound { // OpenAI's 404s are invalid_request_error
		typ = string(api.ClassInvalidRequest)
	}
	body, _ := json.Marshal(openai.NewError(typ, wireCode(p.Code), p.Param, p.Message))
	return p.Status, body
}

// wireCode renames the codes agents act on to OpenAI's: Codex stops and
// offers to compact on context_length_exceeded, and waits and retries on
// rate_limit_exceeded.
func wireCode(code string) string {
	switch code {
	case "context_too_large":
		return "context_length_exceeded"
	case "upstream_rate_limited":
		return "rate_limit_exceeded"
	}
	return code
}

// Answer renders a whole answer as a Response object.
func (c *Codec) Answer(req *api.Request, meta api.Meta, ans *api.Answer) (int, []byte) {
	r := c.base(req, meta)
	r.Output = answerItems(meta.ID, ans)
	finish(r, &ans.End)
	body, err := json.Marshal(r)
	if err != nil { // only plain types: cannot happen
		return c.Error(&api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer, Code: "internal_error", Message: "could not render the response"})
	}
	return http.StatusOK, body
}

// Finished keeps the answer (unless the request said store: false) for
// previous_response_id and GET, and now and then removes expired ones.
// A store failure is logged: the client already has its answer.
func (c *Codec) Finished(req *api.Request, meta api.Meta, ans *api.Answer) {
	ex, ok := req.Extra.(*extra)
	if !ok || !ex.store || c.st == nil {
		return
	}
	_, body := c.Answer(req, meta, ans)
	conv := append(append([]api.Message(nil), ex.history...),
		api.Message{Role: "assistant", Text: ans.Text, Reasoning: ans.Reasoning, ToolCalls: ans.Calls})
	convJSON, err := encodeConversation(conv)
	if err != nil {
		c.log.Error("responses: encode conversation", "response_id", meta.ID, "err", err)
		return
	}
	created := time.Unix(meta.Created, 0)
	if meta.Created == 0 {
		created = c.now()
	}
	rec := &store.StoredResponse{ID: meta.ID, CreatedAt: created, ExpiresAt: c.now().Add(c.retention),
		Model: meta.Model, Conversation: convJSON, Body: body}
	ctx, cancel := storeContext()
	defer cancel()
	if err := c.st.PutResponse(ctx, rec); err != nil {
		c.log.Error("responses: store answer", "response_id", meta.ID, "err", err)
	}
	c.maybeSweep(ctx)
}

// maybeSweep removes expired answers at most once per sweepEvery.
func (c *Codec) maybeSweep(ctx context.Context) {
	now := c.now()
	last := c.lastSweep.Load()
	if now.UnixNano()-last < int64(sweepEvery) || !c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := c.st.DeleteExpiredResponses(ctx, now); err != nil {
		c.log.Error("responses: remove expired answers", "err", err)
	}
}

// itemID makes an output item id from the response id: kind_<digits> for
// the first item of a kind, kind_<digits>_<n> after.
func itemID(kind, respID string, n int) string {
	id := kind + "_" + strings.TrimPrefix(respID, "resp_")
	if n > 0 {
		id += "_" + strconv.Itoa(n)
	}
	return id
}

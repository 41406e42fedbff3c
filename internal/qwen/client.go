// Package qwen speaks the private Qwen Chat web protocol (chat.qwen.ai): it
// builds requests and headers, parses the upstream SSE frames into
// provider-neutral upstream.Events and classifies every upstream failure into
// an *upstream.Error. All knowledge of that protocol lives here: when the live
// service changes, only this package changes.
package qwen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Protocols and option values.
const (
	ProtocolV2     = "v2"     // /api/v2/chats/new + /api/v2/chat/completions (current)
	ProtocolLegacy = "legacy" // era-1 /api/chat/completions with cumulative deltas

	BodyBrowser = "browser" // the browser envelope (docs/qwen-protocol.md §3.2 b)
	BodySimple  = "simple"  // the simplified body (docs/qwen-protocol.md §3.2 a)

	// Where the token goes (docs/qwen-protocol.md §11.1: the browser sends
	// only the cookie since 2026-07).
	TokenCookie = "cookie" // Cookie: token=<JWT> (default)
	TokenHeader = "header" // Authorization: Bearer <JWT>
	TokenBoth   = "both"   // both of them

	// How the web search mode is asked for (docs/qwen-protocol.md §6.2:
	// R, G and RS use either form).
	SearchChatType   = "chat_type"   // chat_type and sub_chat_type "search" (default)
	SearchAutoSearch = "auto_search" // chat type t2t with feature_config.auto_search

	ThinkingSummary = "summary" // thinking_summary frames (cumulative arrays)
	ThinkingDetail  = "detail"  // think frames (incremental text)

	// DefaultMaxBodyBytes: docs/qwen-protocol.md §7, 117 KB bodies pass, 129 KB get the captcha.
	DefaultMaxBodyBytes = 128000
)

// Options configures a Client. See New for the defaults.
type Options struct {
	BaseURL          string // e.g. https://chat.qwen.ai
	Protocol         string // "v2" (default) or "legacy"
	BodyStyle        string // "browser" (default) or "simple"
	ThinkingFormat   string // "summary" (default) or "detail"
	SearchStyle      string // "chat_type" (default) or "auto_search"
	TokenTransport   string // "cookie" (default), "header" or "both"
	Headers          Headers
	HTTPClient       *http.Client  // required, without an overall Timeout
	FirstByteTimeout time.Duration // max wait for the first frame of a completion (0 = none)
	IdleTimeout      time.Duration // max silence between frames (0 = none)
	MaxBodyBytes     int           // completion bodies above this are refused (default 128000)
	// ContextStrategy is what a v2 conversation over MaxBodyBytes becomes:
	// ContextAttach (default), ContextTruncate or ContextRefuse (longctx.go).
	ContextStrategy string
	// DefaultThinkingBudget is sent as thinking_budget when the request has
	// none; 0 omits the field (upstream default 81920).
	DefaultThinkingBudget int
	// DeleteChats deletes each upstream chat once its answer ended (or
	// failed), in the background; Close waits for pending deletions.
	DeleteChats       bool
	DeleteConcurrency int           // deletions at once (default 4)
	DeleteTimeout     time.Duration // per deletion (default 30s)
	// ChatPool keeps chats created ahead of the requests (v2 only; needs
	// DeleteChats). Close deletes the ones left unused.
	ChatPool ChatPoolOptions
	// Upload configures the upload path of attachments (§6.6).
	Upload UploadOptions
	// Logger receives the clean-up's warnings (nil: discarded). No secret
	// is ever logged.
	Logger *slog.Logger
	Now    func() time.Time // nil means time.Now
}

// Client is a Qwen Chat upstream. It is safe for concurrent use.
type Client struct {
	opts   Options
	base   string      // BaseURL without a trailing slash
	static http.Header // headers identical on every request
	cookie string      // extra cookies appended after token=
	now    func() time.Time
	loc    *time.Location

	janitor *janitor  // nil unless DeleteChats
	pool    *chatPool // nil unless ChatPool.Enabled, DeleteChats and v2

	modelsMu         sync.RWMutex
	thinkingRequired map[string]bool // model ids learned from ListModels (§11.3)
}

var _ upstream.Provider = (*Client)(nil)

// New validates opts, fills the defaults and returns a Client. Empty Headers
// fields take the values of DefaultHeaders.
func New(opts Options) (*Client, error) {
	if err := normalize(&opts); err != nil {
		return nil, fmt.Errorf("qwen: %w", err)
	}
	c := &Client{opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	c.loc = opts.Headers.Location
	if c.loc == nil {
		c.loc = time.UTC
	}
	c.static, c.cookie = staticHeaders(c.base, opts.Headers)
	if opts.DeleteChats {
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		c.janitor = newJanitor(c, opts.DeleteConcurrency, opts.DeleteTimeout, log)
		if opts.ChatPool.Enabled && opts.Protocol == ProtocolV2 {
			c.pool = newChatPool(c, opts.ChatPool, log)
		}
	}
	return c, nil
}

func normalize(o *Options) error {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid BaseURL %q", o.BaseURL)
	}
	if o.HTTPClient == nil {
		return errors.New("HTTPClient is required")
	}
	if o.HTTPClient.Timeout != 0 {
		return errors.New("HTTPClient must not have an overall Timeout: it would cut long streams (use FirstByteTimeout/IdleTimeout)")
	}
	if err := oneOf("Protocol", &o.Protocol, ProtocolV2, ProtocolLegacy); err != nil {
		return err
	}
	if err := oneOf("ContextStrategy", &o.ContextStrategy, ContextAttach, ContextTruncate, ContextRefuse); err != nil {
		return err
	}
	if err := oneOf("BodyStyle", &o.BodyStyle, BodyBrowser, BodySimple); err != nil {
		return err
	}
	if err := oneOf("ThinkingFormat", &o.ThinkingFormat, ThinkingSummary, ThinkingDetail); err != nil {
		return err
	}
	if err := oneOf("SearchStyle", &o.SearchStyle, SearchChatType, SearchAutoSearch); err != nil {
		return err
	}
	if err := oneOf("TokenTransport", &o.TokenTransport, TokenCookie, TokenHeader, TokenBoth); err != nil {
		return err
	}
	if o.FirstByteTimeout < 0 || o.IdleTimeout < 0 {
		return errors.New("timeouts must not be negative")
	}
	if o.MaxBodyBytes < 0 || o.DefaultThinkingBudget < 0 {
		return errors.New("MaxBodyBytes and DefaultThinkingBudget must not be negative")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.DeleteConcurrency < 0 || o.DeleteTimeout < 0 {
		return errors.New("DeleteConcurrency and DeleteTimeout must not be negative")
	}
	if o.DeleteConcurrency == 0 {
		o.DeleteConcurrency = DefaultDeleteConcurrency
	}
	if o.DeleteTimeout == 0 {
		o.DeleteTimeout = DefaultDeleteTimeout
	}
	if err := o.ChatPool.normalize(); err != nil {
		return err
	}
	if err := o.Upload.normalize(); err != nil {
		return err
	}
	o.Headers = o.Headers.withDefaults()
	return nil
}

// oneOf lower-cases *v, fills the default (the first allowed value) when it
// is empty and rejects anything else.
func oneOf(name string, v *string, allowed ...string) error {
	*v = strings.ToLower(strings.TrimSpace(*v))
	if *v == "" {
		*v = allowed[0]
		return nil
	}
	for _, a := range allowed {
		if *v == a {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want one of %s", name, *v, strings.Join(allowed, ", "))
}

// OpenChat starts an answer: it checks the request size, creates the chat
// (v2), sends the completion and returns once the upstream accepted it with
// an event stream. Failures are *upstream.Error; a cancelled ctx is returned
// as ctx.Err().
func (c *Client) OpenChat(ctx context.Context, cred upstream.Credential, req *upstream.ChatRequest) (upstream.Stream, error) {
	if err := checkRequest(cred, req); err != nil {
		return nil, err
	}
	if req.Mode == upstream.ModeImageEdit && len(req.Files) == 0 {
		return nil, upstream.Errorf(upstream.KindBadRequest, "an image edit needs at least one image")
	}
	req, hide := c.thinkingRule(req)
	if c.opts.Protocol == ProtocolLegacy {
		if len(req.Files) > 0 {
			return nil, upstream.Errorf(upstream.KindBadRequest, "attachments need protocol v2 (the era-1 upload is not supported)")
		}
		body, err := c.legacyBody(req)
		if err != nil {
			return nil, err
		}
		st, err := c.openStream(ctx, cred, "/api/chat/completions", "/", body, &legacyHandler{})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return c.openV2(ctx, cred, req, hide)
}

// openV2 creates or takes a chat and sends the completion (§3.1, §3.2). A
// ready chat from the pool that the upstream no longer knows (Not_Found:
// expired) is replaced by a fresh one within the same call.
func (c *Client) openV2(ctx context.Context, cred upstream.Credential, req *upstream.ChatRequest, hide bool) (upstream.Stream, error) {
	// Size check first, with a placeholder id of a real id's length, so an
	// oversized conversation never costs a chats/new call; over the wall
	// the context strategy applies (§11.6, longctx.go).
	content, attachments, err := c.fitContext(req)
	if err != nil {
		return nil, err
	}
	// Attachments (and an attached history) belong to the account that
	// uploads them (§6.6): this call's credential, so a retry on another
	// account uploads again.
	files, err := c.uploadFiles(ctx, cred, attachments)
	if err != nil {
		return nil, err
	}
	chatID := ""
	if c.pool != nil && !req.Mode.Image() { // pooled chats are t2t chats
		chatID = c.pool.take(cred, req.Model)
	}
	pooled := chatID != ""
	for {
		if chatID == "" {
			var err error
			if chatID, err = c.newChatOfType(ctx, cred, req.Model, c.chatType(req)); err != nil {
				return nil, err
			}
		}
		body, err := c.v2Body(req, content, chatID, files...)
		if err != nil {
			c.chatDone(cred, chatID)
			return nil, err
		}
		path := "/api/v2/chat/completions?chat_id=" + url.QueryEscape(chatID)
		st, err := c.openStream(ctx, cred, path, "/c/"+url.PathEscape(chatID), body, &v2Handler{hideReasoning: hide, images: req.Mode.Image()})
		if err != nil && pooled && chatNotFound(err) && ctx.Err() == nil {
			// Expired upstream. Deleted all the same (a 404 counts as
			// deleted), in case it still shows in the account's history.
			c.pool.gone()
			c.chatDone(cred, chatID)
			chatID, pooled = "", false
			continue
		}
		if err != nil {
			c.chatDone(cred, chatID)
			return nil, explainInvalidInput(err, req)
		}
		id := chatID
		st.onRelease = func() { c.chatDone(cred, id) }
		if req.Mode.Image() {
			return c.imageStream(ctx, cred, id, st), nil
		}
		return st, nil
	}
}

// chatNotFound reports the upstream's answer for an unknown chat id: 404
// with the code Not_Found (§3.6).
func chatNotFound(err error) bool {
	ue, ok := upstream.AsError(err)
	return ok && (ue.Status == http.StatusNotFound || strings.EqualFold(ue.Code, "Not_Found"))
}

// thinkingRule applies docs/qwen-protocol.md §11.3: a model whose
// think_skip is disabled must be sent thinking_enabled:true, else the
// upstream answers invalid_input. Thinking is then turned on, and when the
// caller explicitly asked for it off, its reasoning is not passed on
// (hide), so the answer looks like the one asked for.
func (c *Client) thinkingRule(req *upstream.ChatRequest) (_ *upstream.ChatRequest, hide bool) {
	if (req.Thinking != nil && *req.Thinking) || req.Mode.Image() || !c.needsThinking(req.Model) {
		return req, false
	}
	on := true
	cp := *req
	cp.Thinking = &on
	return &cp, req.Thinking != nil
}

// explainInvalidInput says what an invalid_input answer most likely means
// when the request went out with thinking off: the model requires thinking
// and the model list has not said so (yet).
func explainInvalidInput(err error, req *upstream.ChatRequest) error {
	ue, ok := upstream.AsError(err)
	if !ok || ue.Code != codeInvalidInput || (req.Thinking != nil && *req.Thinking) {
		return err
	}
	cp := *ue
	cp.Message += fmt.Sprintf(" (model %q was asked without thinking; models whose think_skip is disabled, "+
		"like the qwen3.8 family, only answer with thinking on: use the model's -thinking variant)", req.Model)
	return &cp
}

func checkRequest(cred upstream.Credential, req *upstream.ChatRequest) error {
	switch {
	case req == nil || len(req.Messages) == 0:
		return upstream.Errorf(upstream.KindBadRequest, "the conversation has no messages")
	case strings.TrimSpace(req.Model) == "":
		return upstream.Errorf(upstream.KindBadRequest, "no model given")
	case cred.Token == "":
		return upstream.Errorf(upstream.KindUnauthorized, "credential %q has no token", cred.ID)
	}
	return nil
}

// finishErr turns a failure of an HTTP exchange into what callers get: the
// caller's own cancellation unwrapped, our watchdog as KindTimeout, anything
// else as KindNetwork.
func finishErr(parent, ctx context.Context, op string, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(context.Cause(ctx), errWatchdog) {
		return &upstream.Error{Kind: upstream.KindTimeout, Message: op + ": upstream did not answer in time", Err: errWatchdog}
	}
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return err
	}
	return &upstream.Error{Kind: upstream.KindNetwork, Message: op + ": connection failed", Err: err}
}

// newChat creates a server-side chat and returns its id (docs/qwen-protocol.md §3.1). The id
// is read from data.id, or data.chat.chat_id / data.chat.id as G tolerates.
func (c *Client) newChat(ctx context.Context, cred upstream.Credential, model string) (string, error) {
	return c.newChatOfType(ctx, cred, model, "t2t")
}

// newChatOfType creates a chat of the given chat_type (t2i, image_edit and
// t2v chats are created as such, docs/qwen-protocol.md §6.3, §6.5).
func (c *Client) newChatOfType(ctx context.Context, cred upstream.Credential, model, chatType string) (string, error) {
	body, err := c.encodeBody(&newChatBody{
		Title: "New Chat", Models: []string{model}, ChatMode: "normal", ChatType: chatType,
		Timestamp: c.now().UnixMilli(), ProjectID: "",
	})
	if err != nil {
		return "", err
	}
	answer, err := c.jsonCall(ctx, cred, http.MethodPost, "/api/v2/chats/new", "/c/new-chat", body)
	if err != nil {
		return "", redact(err, cred.Token)
	}
	data := gjson.GetBytes(answer, "data")
	id := firstString(data.Get("id"), data.Get("chat.chat_id"), data.Get("chat.id"), data.Get("chat_id"))
	if id == "" {
		return "", &upstream.Error{Kind: upstream.KindBadResponse, Status: http.StatusOK,
			Message: "chats/new answered without a chat id"}
	}
	return id, nil
}

package qwen

import (
	"fmt"
	"log/slog"
	"sort"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// Context strategies: what OpenChat does with a conversation whose body
// would cross the size wall (docs/qwen-protocol.md §11.6).
const (
	// ContextAttach moves the older history into one uploaded text/plain
	// document and keeps the latest turns inline (default).
	ContextAttach = "attach"
	// ContextTruncate drops the oldest turns, keeping the system prompt and
	// the latest turn.
	ContextTruncate = "truncate"
	// ContextRefuse answers too_large (413).
	ContextRefuse = "refuse"
)

const (
	// ContextMargin is kept free under MaxBodyBytes when the history is
	// attached (docs/qwen-protocol.md §11.6: 128,000 − envelope − 10,000).
	ContextMargin = 10000
	// ContextKeepInline: a flattened conversation shorter than this is never
	// moved, and when one is, up to this many bytes of the latest turns stay
	// inline with it (docs/qwen-protocol.md §11.6: ≤ 48 KB of live task
	// state stays inline).
	ContextKeepInline = 50000
	// HistoryFileName names the uploaded history document.
	HistoryFileName = "conversation-history.txt"
	// HistoryPointer opens the inline message when the history is attached.
	HistoryPointer = "[The conversation so far (system instructions, earlier turns and tool results) is in the attached file " +
		HistoryFileName + ". Read all of it before answering; the latest turns follow.]"
)

// fitContext returns the text and the attachments to send for req: the
// flattened conversation and req.Files when the body fits under
// MaxBodyBytes; otherwise what the context strategy makes of it. A body
// that cannot be made to fit is a KindTooLarge error.
func (c *Client) fitContext(req *upstream.ChatRequest) (string, []upstream.File, error) {
	content := flatten(req.Messages)
	_, err := c.v2Body(req, content, placeholderChatID, placeholderEntries(req.Files, c.now())...)
	if err == nil || c.opts.ContextStrategy == ContextRefuse {
		return content, req.Files, err
	}
	if ue, ok := upstream.AsError(err); !ok || ue.Kind != upstream.KindTooLarge {
		return "", nil, err
	}
	sys, turns := splitSystem(req.Messages)
	if len(turns) == 0 {
		return "", nil, err
	}
	if c.opts.ContextStrategy == ContextTruncate {
		return c.truncate(req, sys, turns)
	}
	if len(content) < ContextKeepInline {
		return "", nil, err // the 50 KB rule: such a history is never moved
	}
	return c.attach(req, sys, turns)
}

// splitSystem separates the system (and developer) messages from the turns.
func splitSystem(msgs []upstream.Message) (sys, turns []upstream.Message) {
	for _, m := range msgs {
		if isSystem(m.Role) {
			sys = append(sys, m)
		} else {
			turns = append(turns, m)
		}
	}
	return sys, turns
}

// bodyLen is the size of the body req would be sent with (placeholder ids
// and file entries of real lengths).
func (c *Client) bodyLen(req *upstream.ChatRequest, content string, files []upstream.File) (int, error) {
	b, err := marshalBody(c.v2Value(req, content, placeholderChatID, placeholderEntries(files, c.now())))
	return len(b), err
}

// attach moves the system messages and turns[:k] into one text/plain
// document and keeps turns[k:] inline after HistoryPointer. k starts where
// ContextKeepInline bytes of the latest turns stay inline and grows until
// the body is ContextMargin under the wall; the latest turn is never moved.
func (c *Client) attach(req *upstream.ChatRequest, sys, turns []upstream.Message) (string, []upstream.File, error) {
	last := len(turns) - 1
	k := last
	for size := turnLen(turns[last]); k > 0 && size+turnLen(turns[k-1]) <= ContextKeepInline; k-- {
		size += turnLen(turns[k-1])
	}
	if k == 0 && len(sys) == 0 && last > 0 {
		k = 1 // something must move
	}
	split := func(k int) (string, []upstream.File) {
		doc := upstream.File{Name: HistoryFileName, ContentType: "text/plain", Kind: upstream.FileDocument,
			Data: []byte(flatten(append(append([]upstream.Message(nil), sys...), turns[:k]...)))}
		files := append([]upstream.File{doc}, req.Files...)
		return HistoryPointer + "\n\n" + flatten(turns[k:]), files
	}
	var sizeErr error
	size := func(k int) int {
		content, files := split(k)
		n, err := c.bodyLen(req, content, files)
		if err != nil && sizeErr == nil {
			sizeErr = err
		}
		return n
	}
	budget := c.opts.MaxBodyBytes - ContextMargin
	if size(k) > budget {
		// Moving more turns only shrinks the body: the smallest k that fits.
		k += sort.Search(last-k, func(i int) bool { return size(k+1+i) <= budget }) + 1
		k = min(k, last)
	}
	if n := size(k); n > c.opts.MaxBodyBytes {
		return "", nil, &upstream.Error{Kind: upstream.KindTooLarge, Message: fmt.Sprintf(
			"the latest message alone makes a %d-byte request, above the upstream limit of %d bytes even with the earlier conversation attached as a file: it must be shortened",
			n, c.opts.MaxBodyBytes)}
	}
	if sizeErr != nil {
		return "", nil, sizeErr
	}
	content, files := split(k)
	c.logger().Info("long context attached as a document", "moved_turns", k, "inline_turns", len(turns)-k,
		"document_bytes", len(files[0].Data), "inline_bytes", len(content))
	return content, files, nil
}

// truncate drops the oldest turns until the body fits, keeping the system
// messages and the latest turn, and logs what it dropped.
func (c *Client) truncate(req *upstream.ChatRequest, sys, turns []upstream.Message) (string, []upstream.File, error) {
	last := len(turns) - 1
	var sizeErr error
	text := func(k int) string { return flatten(append(append([]upstream.Message(nil), sys...), turns[k:]...)) }
	fits := func(k int) bool {
		n, err := c.bodyLen(req, text(k), req.Files)
		if err != nil && sizeErr == nil {
			sizeErr = err
		}
		return n <= c.opts.MaxBodyBytes
	}
	k := sort.Search(last, func(i int) bool { return fits(i + 1) }) + 1
	if sizeErr != nil {
		return "", nil, sizeErr
	}
	if k > last {
		n, _ := c.bodyLen(req, text(last), req.Files)
		return "", nil, &upstream.Error{Kind: upstream.KindTooLarge, Message: fmt.Sprintf(
			"the system prompt and the latest message alone make a %d-byte request, above the upstream limit of %d bytes: they must be shortened",
			n, c.opts.MaxBodyBytes)}
	}
	dropped := 0
	for _, m := range turns[:k] {
		dropped += turnLen(m)
	}
	c.logger().Warn("long context truncated: oldest turns dropped to fit the upstream size wall",
		"dropped_turns", k, "kept_turns", len(turns)-k, "dropped_bytes", dropped)
	return text(k), req.Files, nil
}

// turnLen is the flattened size of one turn ("role: text" and a separator).
func turnLen(m upstream.Message) int { return len(m.Role) + len(m.Content) + 4 }

func (c *Client) logger() *slog.Logger {
	if c.opts.Logger != nil {
		return c.opts.Logger
	}
	return slog.New(slog.DiscardHandler)
}

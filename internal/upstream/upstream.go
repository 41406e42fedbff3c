// Package upstream is the provider-neutral contract between the relay and a
// chat backend: what a chat request is, what a stream yields, and how upstream
// failures are classified. It knows nothing about any wire protocol.
package upstream

import (
	"context"
	"io"
	"net/http"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// Credential authorises one upstream call. Token is secret and must never be
// logged; ID is a stable, non-secret label (an account id or a masked token).
type Credential struct {
	ID    string
	Token string
	// HTTPClient, when set, carries this credential's calls (an account's
	// own outbound proxy); nil uses the provider's default client.
	HTTPClient *http.Client
}

// Message is one turn of the conversation, already reduced to text.
type Message struct {
	Role    string // system, user, assistant, tool
	Content string
}

// ChatRequest is what the relay asks a provider to answer.
type ChatRequest struct {
	Model    string // the provider's model id (suffixes already resolved)
	Messages []Message
	// Thinking selects reasoning: nil leaves it to the provider's default.
	Thinking *bool
	// ThinkingBudget caps reasoning tokens; 0 means the provider default.
	ThinkingBudget int
	// MaxTokens is passed on where the provider accepts it; 0 means unset.
	MaxTokens int
	// Search asks for the provider's web search mode; its sources come
	// back as EventCitation events.
	Search bool
	// Files are the attachments of the latest user turn (earlier turns'
	// attachments are only named in their text); the provider uploads them
	// after the account is chosen.
	Files []File
	// Mode is the kind of answer asked for: a chat ("") or an image
	// (ModeT2I, ModeImageEdit: the stream yields EventMedia).
	Mode Mode
	// Size is a generated image's aspect ratio ("1:1", "16:9", …); image
	// modes only, "" = the provider's default.
	Size string
	// Transform, when set, wraps the stream of every attempt (a fresh
	// wrapper per attempt): the tool-call parser, which turns call blocks
	// in the text into EventToolCall events. The relay sees the wrapped
	// events, so a call counts as an answer.
	Transform func(Stream) Stream
}

// EventType tells what an Event carries.
type EventType uint8

const (
	// EventReasoning carries an increment of the model's reasoning text.
	EventReasoning EventType = iota + 1
	// EventContent carries an increment of the answer text.
	EventContent
	// EventToolCall carries one complete tool call (Call), made by a
	// Transform.
	EventToolCall
	// EventCitation carries one web source the answer drew on (Citation),
	// each URL once per answer. It is not answer text: a stream of
	// citations alone is an empty answer.
	EventCitation
	// EventMedia carries the URL of one generated image (Text) in the
	// image modes; it is part of the answer.
	EventMedia
)

// Citation is one web source of a search-mode answer.
type Citation struct {
	URL   string
	Title string
}

// Event is one increment of a streamed answer. Text is never empty for
// reasoning and content.
type Event struct {
	Type     EventType
	Text     string
	Call     *toolcall.Call // EventToolCall
	Citation *Citation      // EventCitation
}

// Usage is the token accounting the upstream reported (the last cumulative
// value). Zero values mean "not reported".
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	ReasoningTokens  int
	CachedTokens     int
}

// Result is what is known about a stream once Next has returned io.EOF.
type Result struct {
	Usage        Usage
	FinishReason string // "stop" unless the upstream said otherwise
}

// Stream yields the events of one answer. It is used by one goroutine.
type Stream interface {
	// Next returns the next event, io.EOF at the normal end, or an error
	// (typically *Error) when the answer failed.
	Next() (Event, error)
	// Result is complete after Next returned io.EOF; before that (or after
	// a failure) Usage holds what the upstream reported so far.
	Result() Result
	// Close releases the connection; safe to call more than once.
	Close() error
}

// Buffered is implemented by streams that can tell whether their next event
// is probably already in memory. Writers use it to send several frames with
// one flush; it is a hint, never a promise that Next will not block.
type Buffered interface {
	Buffered() bool
}

// IsBuffered reports the hint for any stream (false when unsupported).
func IsBuffered(s Stream) bool {
	b, ok := s.(Buffered)
	return ok && b.Buffered()
}

// Model describes one upstream model.
type Model struct {
	ID       string
	Name     string
	OwnedBy  string
	Created  int64
	Thinking bool // can reason (offered with a -thinking variant)
	// ThinkingRequired: the model cannot answer with reasoning off (the
	// provider turns it on by itself; a variant without it makes no sense).
	ThinkingRequired bool
	Vision           bool
	// Search: the model can answer in the upstream's web search mode
	// (offered with a -search variant).
	Search bool
	// ImageGen, ImageEdit: the model offers the upstream's t2i and
	// image_edit chat types.
	ImageGen   bool
	ImageEdit  bool
	MaxContext int
	// Video: the model's chat types list t2v (docs/qwen-protocol.md §6.5).
	Video bool
}

// Provider is a chat backend.
type Provider interface {
	// OpenChat starts an answer. It returns once the upstream accepted the
	// request (a classified *Error otherwise); events are read from the Stream.
	OpenChat(ctx context.Context, cred Credential, req *ChatRequest) (Stream, error)
	// ListModels returns the upstream's models.
	ListModels(ctx context.Context, cred Credential) ([]Model, error)
}

// SliceStream is a Stream over fixed events, for tests and for folding.
type SliceStream struct {
	Events []Event
	Res    Result
	Err    error // returned after the events instead of io.EOF, if set
	i      int
}

// Next implements Stream.
func (s *SliceStream) Next() (Event, error) {
	if s.i < len(s.Events) {
		s.i++
		return s.Events[s.i-1], nil
	}
	if s.Err != nil {
		return Event{}, s.Err
	}
	return Event{}, io.EOF
}

// Result implements Stream.
func (s *SliceStream) Result() Result { return s.Res }

// Close implements Stream.
func (s *SliceStream) Close() error { return nil }

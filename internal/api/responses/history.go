package responses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/api"
	"github.com/qwenrelay/qwenrelay/internal/store"
	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

// storedConversation is how a conversation is kept in the store. It has its
// own field names so api.Message can change without breaking stored rows.
type storedConversation struct {
	Version  int             `json:"v"`
	Messages []storedMessage `json:"messages"`
}

type storedMessage struct {
	Role       string       `json:"role"`
	Text       string       `json:"text,omitempty"`
	Reasoning  string       `json:"reasoning,omitempty"`
	ToolCalls  []storedCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
	ToolName   string       `json:"tool_name,omitempty"`
	// Media keep what an attachment was, not its bytes: a continued
	// conversation names it in the history (data: URIs are not stored).
	Media []storedMedia `json:"media,omitempty"`
}

type storedMedia struct {
	Kind     string `json:"kind"`
	Filename string `json:"filename,omitempty"`
	URL      string `json:"url,omitempty"` // http(s) sources only
}

type storedCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments,omitempty"`
	Custom    bool   `json:"custom,omitempty"`
	Input     string `json:"input,omitempty"`
}

func encodeConversation(msgs []api.Message) ([]byte, error) {
	sc := storedConversation{Version: 1, Messages: make([]storedMessage, 0, len(msgs))}
	for _, m := range msgs {
		sm := storedMessage{Role: m.Role, Text: m.Text, Reasoning: m.Reasoning, ToolCallID: m.ToolCallID, ToolName: m.ToolName}
		for _, c := range m.ToolCalls {
			sm.ToolCalls = append(sm.ToolCalls, storedCall{ID: c.ID, Name: c.Name, Arguments: c.Arguments, Custom: c.Custom, Input: c.Input})
		}
		for _, md := range m.Media {
			st := storedMedia{Kind: string(md.Kind), Filename: md.Filename}
			if strings.HasPrefix(md.Source, "http://") || strings.HasPrefix(md.Source, "https://") {
				st.URL = md.Source
			}
			sm.Media = append(sm.Media, st)
		}
		sc.Messages = append(sc.Messages, sm)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("responses: encode conversation: %w", err)
	}
	return b, nil
}

func decodeConversation(b []byte) ([]api.Message, error) {
	var sc storedConversation
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("responses: decode conversation: %w", err)
	}
	if sc.Version != 1 {
		return nil, fmt.Errorf("responses: decode conversation: unknown version %d", sc.Version)
	}
	msgs := make([]api.Message, 0, len(sc.Messages))
	for _, sm := range sc.Messages {
		m := api.Message{Role: sm.Role, Text: sm.Text, Reasoning: sm.Reasoning, ToolCallID: sm.ToolCallID, ToolName: sm.ToolName}
		for i, c := range sm.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, toolcall.Call{Index: i, ID: c.ID, Name: c.Name, Arguments: c.Arguments, Custom: c.Custom, Input: c.Input})
		}
		for _, md := range sm.Media {
			m.Media = append(m.Media, api.Media{Kind: api.MediaKind(md.Kind), Filename: md.Filename, Source: md.URL})
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// fetch loads a stored answer; a missing, expired or never stored one is
// ErrNotFound.
func (c *Codec) fetch(ctx context.Context, id string) (*store.StoredResponse, error) {
	if c.st == nil || id == "" {
		return nil, store.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return c.st.GetResponse(ctx, id)
}

// storeProblem renders a store failure other than not found.
func storeProblem(err error) *api.Problem {
	return &api.Problem{Status: http.StatusInternalServerError, Class: api.ClassServer, Code: "store_error",
		Message: "the relay could not read its stored responses; see its log", Kind: "store"}
}

// loadConversation returns the conversation of a stored answer (its input
// and its output) for previous_response_id.
func (c *Codec) loadConversation(ctx context.Context, id string) ([]api.Message, error) {
	rec, err := c.fetch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &api.Problem{Status: http.StatusNotFound, Class: api.ClassNotFound, Code: "previous_response_not_found",
			Param: "previous_response_id", Message: fmt.Sprintf("Previous response with id '%s' not found.", id)}
	}
	if err != nil {
		c.log.Error("responses: load previous response", "response_id", id, "err", err)
		return nil, storeProblem(err)
	}
	msgs, err := decodeConversation(rec.Conversation)
	if err != nil {
		c.log.Error("responses: load previous response", "response_id", id, "err", err)
		return nil, storeProblem(err)
	}
	return msgs, nil
}

// resolveItem finds an output item of a stored answer by its id (an
// item_reference input item). Item ids carry their response's digits
// (itemID), so the answer to load is known from the id alone.
func (c *Codec) resolveItem(ctx context.Context, i int, itemRef string) (*wireItem, error) {
	param := itemParam(i, "id")
	notFound := api.Invalid("invalid_value", param, "item with id '%s' not found", itemRef)
	_, rest, ok := strings.Cut(itemRef, "_")
	if !ok || rest == "" {
		return nil, notFound
	}
	digits, _, _ := strings.Cut(rest, "_")
	rec, err := c.fetch(ctx, "resp_"+digits)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		c.log.Error("responses: resolve item reference", "item_id", itemRef, "err", err)
		return nil, storeProblem(err)
	}
	var body struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		return nil, storeProblem(err)
	}
	for _, raw := range body.Output {
		var it wireItem
		if json.Unmarshal(raw, &it) == nil && it.ID == itemRef && it.Type != "item_reference" {
			return &it, nil
		}
	}
	return nil, notFound
}

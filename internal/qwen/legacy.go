package qwen

import (
	"strings"

	"github.com/qwenrelay/qwenrelay/internal/upstream"
)

// legacyHandler parses era-1 /api/chat/completions frames (docs/qwen-protocol.md §2.3, §2.4):
// delta.content is cumulative (all text so far) in the original protocol
// and incremental with phases after 2025-05; the differ handles both.
// Without phases, reasoning arrives inside <think>…</think>.
type legacyHandler struct {
	done  bool
	text  differ // answer text (with think tags when unphased)
	think differ // phase "think" text
	split thinkSplitter
	acc   usageAcc
}

func (h *legacyHandler) finished() bool { return h.done }

func (h *legacyHandler) usage() upstream.Usage { return h.acc.result() }

func (h *legacyHandler) frame(s *stream, data []byte) error {
	d, ok, err := openFrame(data, &h.done, &h.acc, nil)
	if err == nil {
		s.cite(d.extra)
	}
	if !ok {
		return err
	}
	if d.finish.Str != "" {
		s.res.FinishReason = strings.Clone(d.finish.Str)
		h.done = true // later read errors no longer matter
	}
	// The differ keeps the text for the next frame, so it is copied here.
	text := own(d.content.Str, data)
	switch d.phase.Str {
	case "think", "thinking", "thinking_summary":
		s.emit(upstream.EventReasoning, h.think.next(text))
	case "", "answer":
		h.split.feed(s, h.text.next(text))
	}
	return nil
}

// end accepts a clean close: era 1 ended the stream by closing it.
func (h *legacyHandler) end(s *stream) error {
	h.split.flush(s)
	switch {
	case s.content:
		return nil
	case s.reasoning:
		return &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream finished thinking without an answer"}
	}
	return &upstream.Error{Kind: upstream.KindEmpty, Message: "the upstream finished without any content"}
}

// differ turns a stream of texts that are either cumulative (each repeats
// all text so far) or incremental into increments. The first two non-empty
// frames decide: a frame starting with all text so far is cumulative, one
// that does not is an increment and switches the differ to incremental for
// good. In cumulative mode a frame that does not extend the previous one (a
// rewrite) is passed on whole and becomes the new baseline. Slicing at the
// end of a valid UTF-8 prefix never splits a character.
type differ struct {
	mode diffMode
	prev string // last cumulative text (unknown/cumulative modes)
}

type diffMode uint8

const (
	modeUnknown diffMode = iota
	modeCumulative
	modeIncremental
)

func (d *differ) next(t string) string {
	if t == "" || d.mode == modeIncremental {
		return t
	}
	if d.prev == "" {
		d.prev = t
		return t
	}
	if strings.HasPrefix(t, d.prev) {
		d.mode = modeCumulative
		delta := t[len(d.prev):]
		d.prev = t
		return delta
	}
	if d.mode == modeCumulative {
		d.prev = t
		return t
	}
	d.mode, d.prev = modeIncremental, ""
	return t
}

// thinkSplitter separates a leading <think>…</think> block from the answer
// in text that arrives in arbitrary pieces (a tag may be split across
// frames). Only a block at the start (after white space) counts, so answers
// that talk about the tag are left alone. Held-back bytes always start at
// '<' or white space, so no UTF-8 character is split.
type thinkSplitter struct {
	state splitState
	held  string
}

type splitState uint8

const (
	splitStart     splitState = iota // nothing decided yet
	splitThinkTrim                   // after <think>: drop line breaks before the reasoning
	splitThink                       // inside <think>
	splitTrim                        // after </think>: drop line breaks before the answer
	splitContent                     // plain answer
)

const (
	openTag  = "<think>"
	closeTag = "</think>"
)

func (t *thinkSplitter) feed(s *stream, text string) {
	if text == "" {
		return
	}
	if t.held != "" {
		text, t.held = t.held+text, ""
	}
	for text != "" {
		switch t.state {
		case splitContent:
			s.emit(upstream.EventContent, text)
			return
		case splitTrim, splitThinkTrim:
			// Only line breaks: an answer may well start with a space.
			text = strings.TrimLeft(text, "\r\n")
			if text != "" {
				t.state++ // to splitContent / splitThink
			}
		case splitStart:
			rest := strings.TrimLeft(text, " \t\r\n")
			switch {
			case strings.HasPrefix(rest, openTag):
				t.state, text = splitThinkTrim, rest[len(openTag):]
			case strings.HasPrefix(openTag, rest):
				t.held = text // could still become <think>
				return
			default:
				t.state = splitContent
			}
		case splitThink:
			if i := strings.Index(text, closeTag); i >= 0 {
				s.emit(upstream.EventReasoning, text[:i])
				t.state, text = splitTrim, text[i+len(closeTag):]
				continue
			}
			k := partialSuffix(text, closeTag)
			s.emit(upstream.EventReasoning, text[:len(text)-k])
			t.held = text[len(text)-k:]
			return
		}
	}
}

// flush emits held-back text at the end of the stream.
func (t *thinkSplitter) flush(s *stream) {
	held := t.held
	t.held = ""
	switch t.state {
	case splitThink:
		s.emit(upstream.EventReasoning, held)
	case splitStart, splitContent:
		if strings.TrimSpace(held) != "" {
			s.emit(upstream.EventContent, held)
		}
	}
}

// partialSuffix returns the length of the longest proper prefix of tag that
// text ends with.
func partialSuffix(text, tag string) int {
	for k := min(len(tag)-1, len(text)); k > 0; k-- {
		if strings.HasSuffix(text, tag[:k]) {
			return k
		}
	}
	return 0
}

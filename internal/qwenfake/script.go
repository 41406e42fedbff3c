package qwenfake

import (
	"encoding/json"
	"unicode/utf8"
)

// saltChunk keeps frame sizes apart from the text sequences.
const saltChunk = 0x632be59bd9b4e019

// applyScript turns a tool-call or echo directive into a scripted answer.
// prose=N with id=S makes the first N such requests answer with the usual
// prose instead (a relay that re-asks for a required call then gets it).
func (s *Server) applyScript(p *streamPlan, d *Directive, text string) {
	var reasoning, answer string
	switch {
	case d.Echo == "raw":
		answer = text
	case d.Echo == "json":
		// HTML escaping turns every '<' and '>' into \u003c and \u003e, so
		// no markup of the prompt can be read as a call (docs/qwen-protocol.md §11).
		b, _ := json.Marshal(text) // a string always encodes
		answer = string(b)
	case d.ToolAnswer():
		if d.Prose > 0 && s.countID("prose\x00"+d.ID, d.Prose) {
			return
		}
		tp := d.ToolPlan(declaredTool(text), s.opts.DefaultTokens)
		reasoning, answer = tp.Reasoning(), tp.Answer()
	default:
		return
	}
	h := seedHash(p.seed) ^ saltChunk
	p.text = answer
	p.answer = chunkJSON(answer, d.Chunk, h)
	p.tokens = len(p.answer)
	if reasoning != "" {
		// Calls standing alone in the thinking phase are streamed as
		// incremental "think" frames, whatever thinking the request asked.
		p.reasoning = chunkJSON(reasoning, d.Chunk, h^saltReasoning)
		p.think = len(p.reasoning)
		p.thinkFmt = thinkDetail
	}
}

// countID counts one request against the per-id budget n and reports
// whether it was still within it.
func (s *Server) countID(key string, n int) bool {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.idFails[key] >= n {
		return false
	}
	s.idFails[key]++
	return true
}

// chunkJSON cuts text into frame contents of at most size bytes each (size
// < 1: 1, 2 or 3 bytes, chosen from h), never inside a UTF-8 sequence (a
// character longer than that is a frame of its own), each one JSON-escaped.
// An empty text has no frames.
func chunkJSON(text string, size int, h uint64) [][]byte {
	out := [][]byte{}
	for i := 0; text != ""; i++ {
		n := size
		if n < 1 {
			n = int(mix(h+uint64(i)*0x9e3779b97f4a7c15)%3) + 1
		}
		n = min(n, len(text))
		for n > 0 && n < len(text) && !utf8.RuneStart(text[n]) {
			n-- // end before a character that does not fit
		}
		if n == 0 { // the first character alone is longer than size
			_, n = utf8.DecodeRuneInString(text)
		}
		out = append(out, appendJSONString(nil, text[:n], false))
		text = text[n:]
	}
	return out
}

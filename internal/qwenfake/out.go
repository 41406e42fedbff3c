package qwenfake

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"sync"
)

// out writes one response: optional gzip, optional split writes with a
// flush after every piece, byte accounting.
type out struct {
	s     *Server
	w     http.ResponseWriter
	rc    *http.ResponseController
	gz    *gzip.Writer
	split int
	err   error // first write error; later writes are skipped
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

func (s *Server) newOut(w http.ResponseWriter, r *http.Request) *out {
	o := &out{s: s, w: w, rc: http.NewResponseController(w), split: s.opts.SplitWrites}
	if s.opts.Gzip && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		o.gz = gzipPool.Get().(*gzip.Writer)
		o.gz.Reset(w)
	}
	return o
}

func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// header sends the status line and headers.
func (o *out) header(status int, ctype string) {
	h := o.w.Header()
	h.Set("Content-Type", ctype)
	if o.gz != nil {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	o.w.WriteHeader(status)
}

// body sends a complete non-streamed response.
func (o *out) body(status int, ctype string, b []byte) {
	o.header(status, ctype)
	_ = o.write(b)
	o.close()
}

func (o *out) json(status int, b []byte) { o.body(status, "application/json", b) }

// write writes b (split into pieces when configured) and flushes.
func (o *out) write(b []byte) error {
	if o.split <= 0 {
		o.raw(b)
		o.flush()
		return o.err
	}
	for len(b) > 0 && o.err == nil {
		n := min(o.split, len(b))
		o.raw(b[:n])
		o.flush()
		b = b[n:]
	}
	return o.err
}

func (o *out) raw(b []byte) {
	if o.err != nil {
		return
	}
	if o.gz != nil {
		_, o.err = o.gz.Write(b)
	} else {
		_, o.err = o.w.Write(b)
	}
	o.s.stats.bytesOut.Add(int64(len(b)))
}

func (o *out) flush() {
	if o.err != nil {
		return
	}
	if o.gz != nil {
		if o.err = o.gz.Flush(); o.err != nil {
			return
		}
	}
	if err := o.rc.Flush(); err != nil {
		o.err = err
	}
}

// close finishes a gzip body and recycles the compressor.
func (o *out) close() {
	if o.gz == nil {
		return
	}
	if o.err == nil {
		o.err = o.gz.Close()
	}
	o.gz.Reset(io.Discard)
	gzipPool.Put(o.gz)
	o.gz = nil
}

package server

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// gzipMinSize is the smallest body worth compressing.
const gzipMinSize = 1024

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// writeJSON writes v as JSON, gzip-compressed when the client accepts it and
// the body is large enough for that to help.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"internal error: could not encode the response","type":"server_error","param":null,"code":"internal_error"}}`)
	}
	writeJSONBytes(w, r, status, b)
}

func writeJSONBytes(w http.ResponseWriter, r *http.Request, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")
	if len(b) >= gzipMinSize && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		w.WriteHeader(status)
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(w)
		_, _ = zw.Write(b)
		_ = zw.Close()
		zw.Reset(nil)
		gzipPool.Put(zw)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// acceptsGzip parses Accept-Encoding, honouring q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}

// maxQuoted is how much client-supplied text (a path, a model name) an
// error message quotes.
const maxQuoted = 100

// quoted makes client-supplied text fit to quote in an error message:
// non-printable characters and invalid UTF-8 become '?', and text longer
// than maxQuoted characters is cut, saying how long it was.
func quoted(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxQuoted {
			fmt.Fprintf(&b, "… (%d bytes)", len(s))
			return b.String()
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

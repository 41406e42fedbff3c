package media

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"
)

// DefaultMaxBytes is the size limit used when a caller gives none (0).
const DefaultMaxBytes = 20 << 20

// maxDataURIHeader bounds the part before the comma ("image/png;base64").
const maxDataURIHeader = 1024

// DataURI is a decoded RFC 2397 data: URI.
type DataURI struct {
	MediaType string            // essence, lower case; "text/plain" when the URI names none
	Params    map[string]string // e.g. charset; never nil
	Data      []byte
}

// ParseDataURI decodes a data: URI with the DefaultMaxBytes limit and returns
// its media type (essence, without parameters) and bytes.
func ParseDataURI(s string) (mimeType string, data []byte, err error) {
	d, err := DecodeDataURI(s, DefaultMaxBytes)
	if err != nil {
		return "", nil, err
	}
	return d.MediaType, d.Data, nil
}

// DecodeDataURI decodes a data: URI whose payload may be base64 (standard or
// URL alphabet, padded or not, whitespace and line breaks ignored) or
// percent-encoded. maxBytes (0 means DefaultMaxBytes) limits the decoded
// size and is checked before anything is allocated. The payload is decoded
// straight from s into one buffer of the exact decoded size.
func DecodeDataURI(s string, maxBytes int64) (*DataURI, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return nil, errorf(CodeInvalidDataURI, nil, "not a data: URI")
	}
	header, payload, ok := strings.Cut(s[5:], ",")
	if !ok {
		return nil, errorf(CodeInvalidDataURI, nil, "data URI has no comma before its data")
	}
	if len(header) > maxDataURIHeader {
		return nil, errorf(CodeInvalidDataURI, nil, "data URI header is longer than %d bytes", maxDataURIHeader)
	}
	mt, params, isBase64, err := parseDataHeader(header)
	if err != nil {
		return nil, err
	}
	var data []byte
	if isBase64 {
		data, err = decodeBase64(payload, maxBytes)
	} else {
		data, err = decodePercent(payload, maxBytes)
	}
	if err != nil {
		return nil, err
	}
	return &DataURI{MediaType: mt, Params: params, Data: data}, nil
}

func parseDataHeader(header string) (mt string, params map[string]string, isBase64 bool, err error) {
	header = strings.TrimSpace(header)
	if i := strings.LastIndexByte(header, ';'); i >= 0 && strings.EqualFold(strings.TrimSpace(header[i+1:]), "base64") {
		header, isBase64 = strings.TrimSpace(header[:i]), true
	}
	if header == "" {
		return "text/plain", map[string]string{"charset": "US-ASCII"}, isBase64, nil
	}
	if header[0] == ';' {
		header = "text/plain" + header
	}
	mt, params, perr := mime.ParseMediaType(header)
	if perr != nil || !strings.Contains(mt, "/") {
		return "", nil, false, errorf(CodeInvalidDataURI, perr, "data URI media type %q is not valid", header)
	}
	if params == nil {
		params = map[string]string{}
	}
	return mt, params, isBase64, nil
}

// b64Class maps a byte to its role in a base64 payload: 0 invalid, 1 letter
// or digit, 2 "+" or "/", 3 "-" or "_", 4 "=", 5 whitespace. A constant
// string, so the scan is a table lookup with no mutable package state.
const b64Class = "" +
	"0000000005505500000000000000000050000000000203021111111111000400" +
	"0111111111111111111111111110000301111111111111111111111111100000" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// base64Shape is what one scan of a base64 payload learns.
type base64Shape struct {
	data, pad        int // data characters, '=' characters
	std, url, spaces bool
}

func scanBase64(p string) (base64Shape, error) {
	var s base64Shape
	for i := 0; i < len(p); i++ {
		switch b64Class[p[i]] {
		case '1':
			s.data++
		case '2':
			s.data++
			s.std = true
		case '3':
			s.data++
			s.url = true
		case '4':
			s.pad++
			continue
		case '5':
			s.spaces = true
			continue
		default:
			return s, errorf(CodeInvalidDataURI, nil, "data URI base64 has an invalid character %q at byte %d", p[i], i)
		}
		if s.pad > 0 {
			return s, errorf(CodeInvalidDataURI, nil, "data URI base64 has data after padding at byte %d", i)
		}
	}
	switch {
	case s.std && s.url:
		return s, errorf(CodeInvalidDataURI, nil, "data URI base64 mixes the standard and URL-safe alphabets")
	case s.pad > 2 || s.pad > 0 && (s.data+s.pad)%4 != 0:
		return s, errorf(CodeInvalidDataURI, nil, "data URI base64 padding is wrong")
	case s.data%4 == 1:
		return s, errorf(CodeInvalidDataURI, nil, "data URI base64 is truncated")
	}
	return s, nil
}

func decodeBase64(p string, maxBytes int64) ([]byte, error) {
	if strings.IndexByte(p, '%') >= 0 { // RFC 2397 allows the base64 text itself to be percent-encoded
		unescaped, err := decodePercent(p, int64(len(p)))
		if err != nil {
			return nil, err
		}
		p = string(unescaped)
	}
	shape, err := scanBase64(p)
	if err != nil {
		return nil, err
	}
	size := int64(shape.data/4*3 + [4]int{0, 0, 1, 2}[shape.data%4])
	if size > maxBytes {
		return nil, errorf(CodeTooLarge, nil, "data URI holds %d bytes, more than the limit of %d", size, maxBytes)
	}
	enc := base64.StdEncoding
	if shape.url {
		enc = base64.URLEncoding
	}
	if shape.pad == 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	var src io.Reader = strings.NewReader(p)
	if shape.spaces {
		src = &spaceSkipper{s: p}
	}
	out := make([]byte, size)
	dec := base64.NewDecoder(enc, src)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, errorf(CodeInvalidDataURI, err, "data URI base64 is not valid: %v", err)
	}
	if n, err := dec.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		return nil, errorf(CodeInvalidDataURI, err, "data URI base64 has trailing data")
	}
	return out, nil
}

// spaceSkipper reads s without ASCII whitespace.
type spaceSkipper struct{ s string }

func (r *spaceSkipper) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && len(r.s) > 0 {
		if c := r.s[0]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' {
			b[n] = c
			n++
		}
		r.s = r.s[1:]
	}
	if n == 0 && len(r.s) == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// decodePercent undoes %XX escapes (a '+' stays a '+', as in a URL path).
func decodePercent(p string, maxBytes int64) ([]byte, error) {
	size := int64(0)
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
				return nil, errorf(CodeInvalidDataURI, nil, "data URI has an invalid percent-escape at byte %d", i)
			}
			i += 2
		}
		size++
	}
	if size > maxBytes {
		return nil, errorf(CodeTooLarge, nil, "data URI holds %d bytes, more than the limit of %d", size, maxBytes)
	}
	out := make([]byte, 0, size)
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			out = append(out, byte(unhex(p[i+1])<<4|unhex(p[i+2])))
			i += 2
			continue
		}
		out = append(out, p[i])
	}
	return out, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

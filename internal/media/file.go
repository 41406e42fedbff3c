package media

import (
	"encoding/json"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFilenameBytes bounds a filename sent upstream (docs/qwen-protocol.md
// §6.6: the STS request carries it).
const maxFilenameBytes = 200

// FilePart is the payload of an OpenAI chat "file" content part:
// {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,…"}}.
// FileID (an OpenAI Files API id) has no counterpart upstream.
type FilePart struct {
	Filename string `json:"filename,omitempty"`
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
}

// ParseFilePart decodes the JSON object inside a "file" part.
func ParseFilePart(raw []byte) (FilePart, error) {
	var p FilePart
	if err := json.Unmarshal(raw, &p); err != nil {
		return FilePart{}, errorf(CodeInvalidFile, err, "file part is not a JSON object with filename and file_data")
	}
	return p, nil
}

// Decode returns the bytes, checked media type and a safe filename of the
// part. file_data is a data: URI or, as some clients send it, bare base64; the
// type comes from the URI, refined by sniffing and the filename extension
// when the URI's type is missing or generic, and must match allowed (nil
// means DefaultAllowedTypes()). maxBytes 0 means DefaultMaxBytes.
func (p FilePart) Decode(maxBytes int64, allowed []string) (*Media, error) {
	switch {
	case p.FileData == "" && p.FileID != "":
		return nil, errorf(CodeInvalidFile, nil, "file parts by file_id are not supported; send the content in file_data")
	case p.FileData == "":
		return nil, errorf(CodeInvalidFile, nil, "file part has no file_data")
	}
	ref := p.FileData
	if len(ref) < 5 || !strings.EqualFold(ref[:5], "data:") {
		ref = "data:;base64," + ref // bare base64; the type is sniffed below
	}
	d, err := DecodeDataURI(ref, maxBytes)
	if err != nil {
		return nil, err
	}
	declared := d.MediaType
	if ref != p.FileData {
		declared = ""
	}
	t, err := checkType(declared, p.Filename, d.Data, allowed)
	if err != nil {
		return nil, err
	}
	return &Media{Data: d.Data, ContentType: t, Filename: SafeFilename(p.Filename, t)}, nil
}

// SafeFilename returns a base name fit to send upstream: no directories,
// no control or path characters, at most maxFilenameBytes, never empty,
// and with an extension (the one for mediaType when the name has none).
func SafeFilename(name, mediaType string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), strings.ContainsRune(`/\:*?"<>|`, r):
			return '_'
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	ext := path.Ext(name)
	if ext == "" || ext == name {
		ext = extForType(mediaType)
		if name == "" || name == ext {
			name = string(KindOf(mediaType))
		}
		name += ext
	}
	if len(name) > maxFilenameBytes {
		if len(ext) > 16 {
			ext = "" // not a real extension; keep the head of the name
		}
		stem := name[:len(name)-len(ext)]
		cut := maxFilenameBytes - len(ext)
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		name = stem[:cut] + ext
	}
	return name
}

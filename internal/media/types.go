package media

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// Kind is how the upload path files a medium (docs/qwen-protocol.md §6.6:
// filetype image|video|audio|document; §11: images file_class "vision",
// documents "document").
type Kind string

// Kinds.
const (
	KindImage    Kind = "image"
	KindDocument Kind = "document"
	KindAudio    Kind = "audio"
	KindVideo    Kind = "video"
)

// KindOf classifies a media type; anything not image, audio or video is a
// document.
func KindOf(mediaType string) Kind {
	switch t, _, _ := strings.Cut(essence(mediaType), "/"); t {
	case "image":
		return KindImage
	case "audio":
		return KindAudio
	case "video":
		return KindVideo
	}
	return KindDocument
}

// Media is a fetched or decoded medium.
type Media struct {
	Data        []byte
	ContentType string // essence only, lower case: "image/png"
	Filename    string // safe base name with an extension, never empty
}

// Kind classifies m by its content type.
func (m *Media) Kind() Kind { return KindOf(m.ContentType) }

// DefaultAllowedTypes is the allow list used when none is given: images,
// PDF, text and the common office formats. Callers narrow it (an image_url
// part accepts "image/*" only).
func DefaultAllowedTypes() []string {
	return []string{
		"image/*", "text/*", "application/pdf", "application/json", "application/xml",
		"application/rtf", "application/epub+zip", "application/msword", "application/vnd.ms-excel",
		"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.*",
	}
}

// typeAllowed matches an essence against patterns: "*/*", "image/*", an
// exact type, or a prefix ending in ".*" ("application/vnd.openxmlformats-officedocument.*").
func typeAllowed(mediaType string, patterns []string) bool {
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "*/*" || p == mediaType:
			return true
		case strings.HasSuffix(p, "/*") && strings.HasPrefix(mediaType, p[:len(p)-1]):
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(mediaType, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// essence returns the lower-case type/subtype of a media type, or "" when it
// does not parse.
func essence(mediaType string) string {
	if mediaType == "" {
		return ""
	}
	t, _, err := mime.ParseMediaType(mediaType)
	if err != nil || !strings.Contains(t, "/") {
		return ""
	}
	return t
}

func isGeneric(t string) bool {
	switch t {
	case "", "application/octet-stream", "binary/octet-stream", "application/unknown",
		"application/x-download", "application/force-download", "application/binary":
		return true
	}
	return false
}

// sniffLen is how much http.DetectContentType looks at.
const sniffLen = 512

// resolveType decides the media type of data. A specific declared type wins,
// except that an image labelled with the wrong image format takes the sniffed
// one, and a declared image whose bytes are plainly something else (HTML, PDF)
// is refused. A missing or generic type is sniffed; where sniffing only says
// "zip" or "text/plain", the filename extension refines it (a .docx is a zip).
func resolveType(declared, filename string, data []byte) (string, error) {
	head := data[:min(len(data), sniffLen)]
	sniffed := essence(http.DetectContentType(head))
	byExt := typeForExt(path.Ext(filename))
	d := essence(declared)
	if isGeneric(d) {
		switch {
		case byExt != "" && (isGeneric(sniffed) || sniffed == "application/zip" || sniffed == "text/plain"):
			return byExt, nil
		case !isGeneric(sniffed):
			return sniffed, nil
		}
		return "application/octet-stream", nil
	}
	if strings.HasPrefix(d, "image/") && d != "image/svg+xml" {
		switch {
		case strings.HasPrefix(sniffed, "image/"):
			return sniffed, nil
		case sniffed == "text/html" || sniffed == "application/pdf" || sniffed == "application/zip" ||
			strings.HasPrefix(sniffed, "audio/") || strings.HasPrefix(sniffed, "video/"):
			return "", errorf(CodeTypeMismatch, nil, "content declared as %s is actually %s", d, sniffed)
		}
	}
	return d, nil
}

// checkType resolves the type of data and applies the allow list.
func checkType(declared, filename string, data []byte, allowed []string) (string, error) {
	t, err := resolveType(declared, filename, data)
	if err != nil {
		return "", err
	}
	if allowed == nil {
		allowed = DefaultAllowedTypes()
	}
	if !typeAllowed(t, allowed) {
		return "", errorf(CodeUnsupportedType, nil, "media type %s is not accepted here (accepted: %s)", t, strings.Join(allowed, ", "))
	}
	return t, nil
}

// typeForExt and extForType are a fixed table rather than mime.TypeByExtension,
// whose answer depends on the host's mime.types files.
func typeForExt(ext string) string {
	switch strings.ToLower(ext) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".bmp":
		return "image/bmp"
	case ".svg":
		return "image/svg+xml"
	case ".heic":
		return "image/heic"
	case ".avif":
		return "image/avif"
	case ".pdf":
		return "application/pdf"
	case ".txt", ".log":
		return "text/plain"
	case ".md", ".markdown":
		return "text/markdown"
	case ".csv":
		return "text/csv"
	case ".html", ".htm":
		return "text/html"
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".rtf":
		return "application/rtf"
	case ".epub":
		return "application/epub+zip"
	case ".doc":
		return "application/msword"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xls":
		return "application/vnd.ms-excel"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".ppt":
		return "application/vnd.ms-powerpoint"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case ".mp3":
		return "audio/mpeg"
	case ".wav":
		return "audio/wav"
	case ".mp4":
		return "video/mp4"
	case ".webm":
		return "video/webm"
	}
	return ""
}

func extForType(t string) string {
	for _, ext := range []string{".png", ".jpg", ".gif", ".webp", ".bmp", ".svg", ".heic", ".avif", ".pdf",
		".txt", ".md", ".csv", ".html", ".json", ".xml", ".rtf", ".epub", ".doc", ".docx", ".xls", ".xlsx",
		".ppt", ".pptx", ".mp3", ".wav", ".mp4", ".webm"} {
		if typeForExt(ext) == t {
			return ext
		}
	}
	return ".bin"
}

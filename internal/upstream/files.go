package upstream

// FileKind is how the upstream files an attachment (docs/qwen-protocol.md
// §6.6: images are "vision" files, everything else a parsed "document").
type FileKind string

// File kinds.
const (
	FileImage    FileKind = "image"
	FileDocument FileKind = "document"
)

// File is one attachment of the latest user turn, already fetched or
// decoded and type-checked. The provider uploads it for the account that
// answers (a retry on another account uploads it again).
type File struct {
	Name        string // safe base name with an extension
	ContentType string // media type essence, e.g. "image/png"
	Data        []byte
	Kind        FileKind
}

package api

// MediaKind says what a client part declared itself to be.
type MediaKind string

// Media kinds a codec can declare.
const (
	// MediaImage: an image part (OpenAI image_url, Anthropic image block,
	// Responses input_image); only image/* content is accepted.
	MediaImage MediaKind = "image"
	// MediaFile: a file or document part (OpenAI file, Anthropic document,
	// Responses input_file); images and documents are accepted.
	MediaFile MediaKind = "file"
)

// Media is an image or file a client attached to a turn, as the codec found
// it: nothing is fetched or decoded in a codec. The server resolves Source
// (an http(s) URL is fetched under the SSRF rule of internal/media, a data:
// URI or bare base64 is decoded) before the relay.
type Media struct {
	Kind MediaKind
	// Source is an http(s) URL, a data: URI, or bare base64 (with
	// MediaType saying what it is, as Anthropic base64 sources do).
	Source    string
	MediaType string // declared media type, "" when the client gave none
	Filename  string // the client's filename, "" when it gave none
}

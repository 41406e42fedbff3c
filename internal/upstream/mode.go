package upstream

// Mode is the kind of answer a ChatRequest asks for.
type Mode string

// Modes. The image modes answer with EventMedia events (one image URL
// each) instead of text.
const (
	ModeChat      Mode = ""
	ModeT2I       Mode = "t2i"
	ModeImageEdit Mode = "image_edit"
)

// Image reports whether m asks for an image.
func (m Mode) Image() bool { return m == ModeT2I || m == ModeImageEdit }

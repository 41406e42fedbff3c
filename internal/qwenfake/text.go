package qwenfake

import (
	"strings"
	"unicode/utf8"
)

// piece is one vocabulary entry: its text and its JSON string encoding
// (without the quotes), precomputed so frames are built by appending bytes.
type piece struct {
	text string
	json []byte
}

// vocabText is the fixed vocabulary of answer and reasoning pieces. It mixes
// plain words with leading spaces, 2-, 3- and 4-byte UTF-8, a newline, a tab,
// double quotes, a backslash and HTML-special characters so that a client's
// reassembly and JSON (un)escaping are really exercised. Its length is a
// power of two.
var vocabText = [32]string{
	" the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog",
	",", ".", " 你好", "世界", " café", "é", " 🙂", "\n",
	" \"quoted\"", ` back\slash`, " naïve", " Ωmega", " 日本語", " data", " stream", "!",
	" über", " 😀", " <tag>", " a&b", "\ttab", " Zürich", " 한국어", " ok",
}

// escapedUnicode lists pieces whose non-ASCII characters are sent as \u
// escapes (one BMP character, one surrogate pair), as an ensure_ascii JSON
// encoder would; all other non-ASCII text is sent as raw UTF-8.
var escapedUnicode = map[string]bool{" über": true, " 😀": true}

// summaryTitles is the vocabulary of thinking_summary titles.
var summaryTitles = [8]string{
	"Understanding the request", "Planning the answer", "Checking the details",
	"Drafting a reply", "考虑用户的问题", "Reviewing \"edge\" cases", "Weighing options", "Finalizing 🙂",
}

// vocab and titles are read-only after package initialization.
var (
	vocab  = buildPieces(vocabText[:])
	titles = buildPieces(summaryTitles[:])
)

func buildPieces(texts []string) []piece {
	out := make([]piece, len(texts))
	for i, t := range texts {
		out[i] = piece{text: t, json: appendJSONString(nil, t, escapedUnicode[t])}
	}
	return out
}

// Salts keep the answer and reasoning sequences of one seed different.
const (
	saltAnswer    = 0x5bd1e9955bd1e995
	saltReasoning = 0x27d4eb2f165667c5
	saltTitle     = 0x94d049bb133111eb
)

// summaryParagraph is the number of reasoning pieces per thinking_summary
// paragraph (one title per paragraph).
const summaryParagraph = 4

// seedHash is FNV-1a of the seed.
func seedHash(seed string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(seed); i++ {
		h ^= uint64(seed[i])
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// pieceAt returns the i-th piece of the sequence identified by h (a seed hash
// xor a salt).
func pieceAt(h uint64, i int) *piece {
	return &vocab[mix(h+uint64(i)*0x9e3779b97f4a7c15)&(uint64(len(vocab))-1)]
}

// titleAt returns the title of the j-th thinking_summary paragraph.
func titleAt(h uint64, j int) *piece {
	return &titles[mix(h^saltTitle+uint64(j)*0x9e3779b97f4a7c15)&(uint64(len(titles))-1)]
}

func joinPieces(h uint64, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(pieceAt(h, i).text)
	}
	return b.String()
}

// AnswerText is the exact answer the emulator streams for seed and tokens:
// the concatenation of the answer pieces (each piece is one output token).
func AnswerText(seed string, tokens int) string {
	return joinPieces(seedHash(seed)^saltAnswer, 0, tokens)
}

// ReasoningText is the exact reasoning text streamed in phase "think"
// (thinking_format "detail"), and in the era-1 <think> block. It also equals
// strings.Join(SummaryThoughts(seed, tokens), "").
func ReasoningText(seed string, tokens int) string {
	return joinPieces(seedHash(seed)^saltReasoning, 0, tokens)
}

// SummaryThoughts is the final extra.summary_thought.content array of a
// thinking_summary stream: the reasoning pieces grouped in paragraphs of four.
// Every thinking_summary frame resends the array whole; in frame k (0-based)
// it holds the pieces 0..k, so only the last paragraph grows.
func SummaryThoughts(seed string, tokens int) []string {
	h := seedHash(seed) ^ saltReasoning
	var out []string
	for from := 0; from < tokens; from += summaryParagraph {
		out = append(out, joinPieces(h, from, min(from+summaryParagraph, tokens)))
	}
	return out
}

// SummaryTitles is the final extra.summary_title.content array of a
// thinking_summary stream: one title per paragraph of SummaryThoughts.
func SummaryTitles(seed string, tokens int) []string {
	h := seedHash(seed)
	var out []string
	for j := 0; j*summaryParagraph < tokens; j++ {
		out = append(out, titleAt(h, j).text)
	}
	return out
}

// SummaryText is the reasoning a client gets from a thinking_summary stream
// when it joins the final summary_thought array with "\n\n" (the RS proxy's
// rule, docs/qwen-protocol.md §3.4). A client following G's rule instead
// joins each title and thought with "\n"; build that from SummaryTitles and
// SummaryThoughts.
func SummaryText(seed string, tokens int) string {
	return strings.Join(SummaryThoughts(seed, tokens), "\n\n")
}

// LegacyText is the final cumulative delta.content of an era-1 stream
// (/api/chat/completions without incremental_output): with thinking, the
// reasoning wrapped in a literal <think> block precedes the answer.
func LegacyText(seed string, thinkTokens, tokens int) string {
	if thinkTokens <= 0 {
		return AnswerText(seed, tokens)
	}
	return legacyThinkOpen + ReasoningText(seed, thinkTokens) + legacyThinkClose + AnswerText(seed, tokens)
}

const (
	legacyThinkOpen  = "<think>\n"
	legacyThinkClose = "\n</think>\n\n"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s JSON-escaped (without quotes) in the style of
// Python's json.dumps(ensure_ascii=False): quotes, backslashes and control
// characters are escaped, '<', '>' and '&' are not. With asciiOnly, non-ASCII
// characters become \uXXXX escapes (surrogate pairs above the BMP).
func appendJSONString(dst []byte, s string, asciiOnly bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !asciiOnly {
				dst = append(dst, s[i:i+n]...)
			} else if r > 0xffff {
				r -= 0x10000
				dst = appendU(appendU(dst, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
			} else {
				dst = appendU(dst, r)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = appendU(dst, rune(c))
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
}

package toolcall

import "strings"

// repairJSON fixes the two mistakes models make most inside JSON strings when
// they write code into arguments: raw control characters (a literal newline
// or tab) and invalid escapes such as \' or a regex's \d. A raw control
// character becomes its escape, \' becomes ', and any other invalid escape
// keeps its backslash as a literal one. Text outside strings is not touched,
// so the result is still only accepted if it then parses. changed reports
// whether anything was fixed.
func repairJSON(s string) (fixed string, changed bool) {
	var b strings.Builder
	inStr := false
	last := 0 // s[last:i] is not yet copied to b
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inStr {
			inStr = c == '"'
			continue
		}
		repl, skip := "", 0 // skip: bytes replaced after s[i]
		switch {
		case c == '"':
			inStr = false
			continue
		case c == '\\':
			if i+1 == len(s) {
				continue
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
				i++ // a valid escape (\u is checked by the parser)
				continue
			case '\'':
				repl, skip = "'", 1
			default:
				repl = `\\`
			}
		case c == '\n':
			repl = `\n`
		case c == '\r':
			repl = `\r`
		case c == '\t':
			repl = `\t`
		case c < 0x20:
			repl = `\u00` + hexDigits[c>>4:c>>4+1] + hexDigits[c&15:c&15+1]
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		i += skip
		last = i + 1
		changed = true
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

const hexDigits = "0123456789abcdef"

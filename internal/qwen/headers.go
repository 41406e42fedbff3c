package qwen

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"
)

// Headers are the browser-style and anti-bot headers sent on every call
// (docs/qwen-protocol.md §4). Which of them the live WAF enforces changes week to week, so all
// values are configurable.
type Headers struct {
	UserAgent      string
	Version        string         // "version" header (web app version)
	BXV            string         // "bx-v" header (baxia SDK version); empty = not sent
	Source         string         // "source" header, "web"
	AcceptLanguage string         // Accept-Language
	Location       *time.Location // zone of the Timezone header; nil means UTC
	// Extra headers are added last and win over the built-in ones; an empty
	// value removes a header. An extra "Cookie" is appended after token=….
	Extra map[string]string
}

// DefaultHeaders returns values current as of August 2026
// (docs/qwen-protocol.md §11.1, §11.2): version 0.2.81, no bx-v (the browser
// front end stopped sending it), source web, a desktop Chrome user agent and
// a GMT+0800 Timezone like a browser in China.
func DefaultHeaders() Headers {
	return Headers{
		UserAgent:      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0.0.0 Safari/537.36",
		Version:        "0.2.81",
		Source:         "web",
		AcceptLanguage: "zh-CN,zh;q=0.9,en;q=0.8",
		Location:       time.FixedZone("GMT+0800", 8*3600),
		Extra: map[string]string{
			"sec-ch-ua":          `"Chromium";v="148", "Google Chrome";v="148", "Not/A)Brand";v="99"`,
			"sec-ch-ua-mobile":   "?0",
			"sec-ch-ua-platform": `"Windows"`,
			"sec-fetch-dest":     "empty",
			"sec-fetch-mode":     "cors",
			"sec-fetch-site":     "same-origin",
		},
	}
}

func (h Headers) withDefaults() Headers {
	d := DefaultHeaders()
	fill := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	fill(&h.UserAgent, d.UserAgent)
	fill(&h.Version, d.Version)
	fill(&h.Source, d.Source)
	fill(&h.AcceptLanguage, d.AcceptLanguage)
	if h.Extra == nil && h.Location == nil {
		h.Extra, h.Location = d.Extra, d.Location
	}
	return h
}

// staticHeaders builds the headers shared by every request, and returns the
// extra cookies separately (they follow token= in the Cookie header).
func staticHeaders(base string, h Headers) (http.Header, string) {
	s := http.Header{}
	s.Set("User-Agent", h.UserAgent)
	s.Set("Accept-Language", h.AcceptLanguage)
	s.Set("Source", h.Source)
	s.Set("Version", h.Version)
	if h.BXV != "" {
		s.Set("Bx-V", h.BXV)
	}
	s.Set("X-Accel-Buffering", "no")
	s.Set("Origin", base)
	var cookie string
	for k, v := range h.Extra {
		switch {
		case strings.EqualFold(k, "Cookie"):
			cookie = v
		case v == "":
			s.Del(k)
		default:
			s.Set(k, v)
		}
	}
	return s, cookie
}

// header returns the headers of one request. token may be empty (sign-in).
func (c *Client) header(token, referer, accept string) http.Header {
	h := c.static.Clone()
	h["X-Request-Id"] = []string{newUUID()}
	h["Timezone"] = []string{jsDate(c.now().In(c.loc))}
	h["Referer"] = []string{c.base + referer}
	h["Accept"] = []string{accept}
	h["Content-Type"] = []string{"application/json"}
	cookie := c.cookie
	if token != "" && c.opts.TokenTransport != TokenCookie {
		h["Authorization"] = []string{"Bearer " + token}
	}
	if token != "" && c.opts.TokenTransport != TokenHeader {
		if cookie != "" {
			cookie = "token=" + token + "; " + cookie
		} else {
			cookie = "token=" + token
		}
	}
	if cookie != "" {
		h["Cookie"] = []string{cookie}
	}
	return h
}

// jsDate formats t like JavaScript's Date.toString() without the zone name,
// e.g. "Mon Dec 08 2025 17:28:55 GMT+0800" (docs/qwen-protocol.md §4).
func jsDate(t time.Time) string {
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700")
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hex[v>>4], hex[v&0x0f]
		j += 2
	}
	return string(out[:])
}

// placeholderChatID has the length of a real chat id; it sizes the body
// before the chat exists.
const placeholderChatID = "00000000-0000-0000-0000-000000000000"

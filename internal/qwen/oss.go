package qwen

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// OSS request signing with the temporary STS credentials
// (docs/qwen-protocol.md §6.6 step 2 and "Files, vision, search, media"):
// V4 (OSS4-HMAC-SHA256 over a canonical request with UNSIGNED-PAYLOAD, the
// default) or V1 (HMAC-SHA1 over the classic string to sign).

// OSS signature versions (Options.OSSSignature).
const (
	OSSSignV4 = "v4"
	OSSSignV1 = "v1"
)

const (
	ossV4Algorithm = "OSS4-HMAC-SHA256"
	ossUnsigned    = "UNSIGNED-PAYLOAD"
	ossTimeFormat  = "20060102T150405Z"
)

// ossObject names what is signed: the bucket, the object key (the STS
// reply's file_path, unescaped) and the region without its "oss-" prefix.
type ossObject struct {
	Bucket, Key, Region string
}

// ossKeys are the STS credentials; never logged.
type ossKeys struct {
	AccessKeyID, Secret, Token string
}

// signOSSV4 sets x-oss-date, x-oss-content-sha256, x-oss-security-token and
// Authorization on h for a PUT of obj at time t. Content-Type must already
// be set on h.
func signOSSV4(h http.Header, method string, obj ossObject, k ossKeys, t time.Time) {
	t = t.UTC()
	stamp := t.Format(ossTimeFormat)
	day := stamp[:8]
	h.Set("x-oss-date", stamp)
	h.Set("x-oss-content-sha256", ossUnsigned)
	if k.Token != "" {
		h.Set("x-oss-security-token", k.Token)
	}
	scope := day + "/" + obj.Region + "/oss/aliyun_v4_request"
	canon := method + "\n" +
		"/" + ossEscape(obj.Bucket) + "/" + ossEscapePath(obj.Key) + "\n" +
		"\n" + // no query
		canonicalOSSHeaders(h, true) + "\n" +
		"\n" + // no additional headers
		ossUnsigned
	sum := sha256.Sum256([]byte(canon))
	toSign := ossV4Algorithm + "\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("aliyun_v4"+k.Secret), day)
	key = hmacSHA256(key, obj.Region)
	key = hmacSHA256(key, "oss")
	key = hmacSHA256(key, "aliyun_v4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	h.Set("Authorization", ossV4Algorithm+" Credential="+k.AccessKeyID+"/"+scope+",Signature="+sig)
}

// signOSSV1 sets Date, x-oss-security-token and Authorization
// ("OSS <AK>:<base64 HMAC-SHA1>") on h. Content-Type must already be set.
func signOSSV1(h http.Header, method string, obj ossObject, k ossKeys, t time.Time) {
	date := t.UTC().Format(http.TimeFormat)
	h.Set("Date", date)
	if k.Token != "" {
		h.Set("x-oss-security-token", k.Token)
	}
	toSign := method + "\n" + h.Get("Content-MD5") + "\n" + h.Get("Content-Type") + "\n" + date + "\n" +
		canonicalOSSHeaders(h, false) + "/" + obj.Bucket + "/" + obj.Key
	mac := hmac.New(sha1.New, []byte(k.Secret))
	mac.Write([]byte(toSign))
	h.Set("Authorization", "OSS "+k.AccessKeyID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// canonicalOSSHeaders lists the signed headers as sorted "name:value\n"
// lines: every x-oss-* header, plus content-type and content-md5 in V4.
func canonicalOSSHeaders(h http.Header, v4 bool) string {
	var names []string
	for name := range h {
		low := strings.ToLower(name)
		if strings.HasPrefix(low, "x-oss-") || (v4 && (low == "content-type" || low == "content-md5")) {
			names = append(names, low)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(h.Get(n)))
		b.WriteByte('\n')
	}
	return b.String()
}

func hmacSHA256(key []byte, msg string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}

// ossEscape percent-encodes everything but RFC 3986 unreserved characters.
func ossEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

// ossEscapePath escapes each segment of an object key, keeping the slashes.
func ossEscapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = ossEscape(s)
	}
	return strings.Join(segs, "/")
}

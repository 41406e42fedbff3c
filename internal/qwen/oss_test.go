package qwen

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
	"time"
)

// The expected signatures are computed here from strings written out by
// hand (the canonical request and the string to sign of the OSS V4 and V1
// schemes), not by the code under test, so a wrong header list, escaping,
// scope or key derivation makes the comparison fail.

func testHMAC256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func TestSignOSSV4KnownVector(t *testing.T) {
	at := time.Date(2026, 8, 9, 10, 11, 12, 0, time.UTC)
	cases := []struct {
		name, key, wantURI string
		token              string
	}{
		{"plain key", "u1/abc_photo.png", "/qwen-webui-prod/u1/abc_photo.png", "CAIStoken"},
		{"escaped key", "u1/a b+c(1)é.png", "/qwen-webui-prod/u1/a%20b%2Bc%281%29%C3%A9.png", "CAIStoken"},
		{"no token", "u1/x.txt", "/qwen-webui-prod/u1/x.txt", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("Content-Type", "image/png")
			signOSSV4(h, http.MethodPut, ossObject{Bucket: "qwen-webui-prod", Key: tc.key, Region: "ap-southeast-1"},
				ossKeys{AccessKeyID: "STS.AK1", Secret: "sekret", Token: tc.token}, at)

			headers := "content-type:image/png\n" +
				"x-oss-content-sha256:UNSIGNED-PAYLOAD\n" +
				"x-oss-date:20260809T101112Z\n"
			if tc.token != "" {
				headers += "x-oss-security-token:" + tc.token + "\n"
			}
			canon := "PUT\n" + tc.wantURI + "\n\n" + headers + "\n\nUNSIGNED-PAYLOAD"
			sum := sha256.Sum256([]byte(canon))
			toSign := "OSS4-HMAC-SHA256\n20260809T101112Z\n20260809/ap-southeast-1/oss/aliyun_v4_request\n" + hex.EncodeToString(sum[:])
			k := testHMAC256([]byte("aliyun_v4sekret"), "20260809")
			k = testHMAC256(k, "ap-southeast-1")
			k = testHMAC256(k, "oss")
			k = testHMAC256(k, "aliyun_v4_request")
			want := "OSS4-HMAC-SHA256 Credential=STS.AK1/20260809/ap-southeast-1/oss/aliyun_v4_request,Signature=" +
				hex.EncodeToString(testHMAC256(k, toSign))
			if got := h.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if h.Get("x-oss-security-token") != tc.token || h.Get("x-oss-date") != "20260809T101112Z" {
				t.Errorf("headers %v", h)
			}
		})
	}
}

func TestSignOSSV1KnownVector(t *testing.T) {
	at := time.Date(2026, 8, 9, 10, 11, 12, 0, time.UTC)
	h := http.Header{}
	h.Set("Content-Type", "application/pdf")
	signOSSV1(h, http.MethodPut, ossObject{Bucket: "qwen-webui-prod", Key: "u1/f_doc.pdf", Region: "ap-southeast-1"},
		ossKeys{AccessKeyID: "STS.AK1", Secret: "sekret", Token: "CAIStoken"}, at)
	toSign := "PUT\n\napplication/pdf\nSun, 09 Aug 2026 10:11:12 GMT\nx-oss-security-token:CAIStoken\n/qwen-webui-prod/u1/f_doc.pdf"
	m := hmac.New(sha1.New, []byte("sekret"))
	m.Write([]byte(toSign))
	want := "OSS STS.AK1:" + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if got := h.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
	if h.Get("Date") != "Sun, 09 Aug 2026 10:11:12 GMT" {
		t.Errorf("Date %q", h.Get("Date"))
	}
}

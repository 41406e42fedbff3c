package media_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/qwenrelay/qwenrelay/internal/media"
)

func ExampleParseDataURI() {
	mt, data, err := media.ParseDataURI("data:text/plain;charset=utf-8;base64,aGVsbG8")
	fmt.Println(mt, string(data), err)
	// Output: text/plain hello <nil>
}

func ExampleFetcher_Fetch_refused() {
	f := &media.Fetcher{AllowedTypes: []string{"image/*"}}
	_, err := f.Fetch(context.Background(), "http://169.254.169.254/latest/meta-data/")
	var me *media.Error
	if errors.As(err, &me) {
		fmt.Println(me.Code, me.HTTPStatus())
		fmt.Println(me.Message)
	}
	// Output:
	// blocked_address 400
	// media URL host 169.254.169.254 is a link-local address; set QWENRELAY_ALLOW_PRIVATE_MEDIA_URLS=true to allow LAN media
}

func ExampleFilePart_Decode() {
	p, _ := media.ParseFilePart([]byte(`{"filename":"notes.txt","file_data":"data:text/plain;base64,aGk="}`))
	m, err := p.Decode(0, nil)
	fmt.Println(m.Filename, m.ContentType, m.Kind(), len(m.Data), err)
	// Output: notes.txt text/plain document 2 <nil>
}

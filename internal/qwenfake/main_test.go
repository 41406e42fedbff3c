package qwenfake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMainMint(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"--mint", "u1", "--ttl", "1h", "--secret", "s"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	s := New(Options{Secret: []byte("s")})
	if c, ok := s.verify(strings.TrimSpace(out.String())); !ok || c.ID != "u1" {
		t.Fatalf("minted %q", out.String())
	}
	if err := Main(context.Background(), []string{"--nope"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestMainServe(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--listen", "127.0.0.1:0", "--ready-file", ready, "--secret", "s",
			"--tokens", "3", "--send-done", "--require-headers", "x-request-id, version", "--gzip",
			"--frame-delay", "1ms", "--split-writes", "4", "--think-tokens", "2", "--max-body", "1000"}, io.Discard, io.Discard)
	}()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(ready)
		addr = strings.TrimSpace(string(b))
	}
	if addr == "" {
		cancel()
		t.Fatal("no ready file", <-done)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/models", nil)
	req.Header.Set("Authorization", "Bearer "+New(Options{Secret: []byte("s")}).MintToken("u", time.Hour))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body) // transparently gunzipped
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "qwq-32b") || !resp.Uncompressed {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// A stalled stream must not block shutdown.
	sreq, _ := http.NewRequest("POST", "http://"+addr+"/api/chat/completions", strings.NewReader(`{"model":"qwq-32b","messages":[{"role":"user","content":"[[qwenfake fail=stall]]"}]}`))
	sreq.Header = req.Header.Clone()
	stalled := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Do(sreq)
		if err == nil {
			resp.Body.Close()
		}
		stalled <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-stalled; err == nil {
		t.Fatal("stalled request got a response")
	}
}

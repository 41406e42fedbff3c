package qwenfake

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// shutdownGrace bounds a graceful shutdown in process mode.
const shutdownGrace = 3 * time.Second

// Main runs the emulator as a process (see doc.go for flags). It returns
// when ctx is cancelled, after shutting the listener down.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("qwenfake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen    = fs.String("listen", "127.0.0.1:8090", "listen address (port 0 picks a free port)")
		readyFile = fs.String("ready-file", "", "write the actual listen address to this file once listening")
		tokens    = fs.Int("tokens", defaultTokens, "answer pieces per reply without directive")
		think     = fs.Int("think-tokens", defaultThinkTokens, "reasoning pieces when thinking is on")
		delay     = fs.Duration("frame-delay", 0, "delay between frames")
		split     = fs.Int("split-writes", 0, "write frames in pieces of at most N bytes")
		sendDone  = fs.Bool("send-done", false, "end streams with data: [DONE] (the real upstream does not)")
		headers   = fs.String("require-headers", "", "comma-separated headers required on /api/v2 chat calls")
		gz        = fs.Bool("gzip", false, "gzip bodies for clients that accept it")
		chatDelay = fs.Duration("chat-delay", 0, "how long chats/new takes to answer")
		chatTTL   = fs.Duration("chat-expiry", 0, "an unused chat is Not_Found this long after its creation (0 = never)")
		maxBody   = fs.Int("max-body", defaultMaxBody, "completion bodies above this size get the captcha JSON")
		vidPolls  = fs.Int("video-polls", 1, "polls of a video task that answer running before it ends")
		secret    = fs.String("secret", DefaultTestSecret, "HS256 key of the JWTs")
		mint      = fs.String("mint", "", "print a token for this user id and exit")
		ttl       = fs.Duration("ttl", tokenTTL, "lifetime of the --mint token")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("qwenfake: unexpected arguments %q", fs.Args())
	}
	s := New(Options{
		Secret: []byte(*secret), DefaultTokens: *tokens, DefaultThinkTokens: *think,
		FrameDelay: *delay, SplitWrites: *split, SendDone: *sendDone, RequireHeaders: splitList(*headers),
		Gzip: *gz, MaxBodyBytes: *maxBody, ChatDelay: *chatDelay, ChatExpiry: *chatTTL,
		VideoPolls: *vidPolls,
	})
	if *mint != "" {
		_, err := fmt.Fprintln(stdout, s.MintToken(*mint, *ttl))
		return err
	}
	return s.serve(ctx, *listen, *readyFile, stderr)
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// serve listens on addr until ctx is cancelled.
func (s *Server) serve(ctx context.Context, addr, readyFile string, stderr io.Writer) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("qwenfake: listen: %w", err)
	}
	// Like the real upstream (HTTPS with HTTP/2 negotiated), the process
	// offers HTTP/2 as well as HTTP/1.1; without TLS that is h2c with prior
	// knowledge, which a client opts into.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil, Protocols: protocols}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	actual := ln.Addr().String()
	if readyFile != "" {
		if err := writeFileAtomic(readyFile, actual+"\n"); err != nil {
			s.Close()
			_ = srv.Close()
			<-errc
			return fmt.Errorf("qwenfake: ready file: %w", err)
		}
	}
	fmt.Fprintf(stderr, "qwenfake: listening on %s\n", actual)
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("qwenfake: serve: %w", err)
	case <-ctx.Done():
	}
	s.Close() // release stalled and paced streams first
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("qwenfake: serve: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file and renames it, so a
// reader polling path never sees a partial address.
func writeFileAtomic(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".qwenfake-ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

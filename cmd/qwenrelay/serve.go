package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qwenrelay/qwenrelay/internal/api/openai"
	"github.com/qwenrelay/qwenrelay/internal/app"
	"github.com/qwenrelay/qwenrelay/internal/config"
)

// serve runs the relay until ctx is cancelled, then stops accepting, lets
// open answers finish for up to the shutdown timeout, flushes usage rows and
// closes the store.
func serve(ctx context.Context, cfg config.Config, logw io.Writer) error {
	log := app.NewLogger(cfg, logw)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	servers, err := listen(cfg, a, log)
	if err != nil {
		_ = a.Close(context.Background())
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		a.Run(bg)
	}()
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() { errc <- sv.srv.Serve(sv.ln) }()
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for open answers", "timeout", cfg.ShutdownTimeout)
	drain(servers, cfg.ShutdownTimeout, a, log)
	stopBG()
	<-bgDone
	// The grace period may be spent: flushing the usage rows gets its own time.
	cctx, ccancel := context.WithTimeout(context.Background(), closeTimeout)
	defer ccancel()
	if err := a.Close(cctx); err != nil {
		log.Error("closing", "error", err)
		serveErr = errors.Join(serveErr, err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

// Shutdown timings besides cfg.ShutdownTimeout.
const (
	// abortGrace is how long the answers ended by AbortOpen get to send
	// their closing frames and record their usage before connections are cut.
	abortGrace = 5 * time.Second
	// closeTimeout bounds flushing the usage rows and closing the store.
	closeTimeout = 15 * time.Second
)

// drainer is what drain needs of the app.
type drainer interface {
	AbortOpen() int
	WaitIdle(ctx context.Context) error
}

// drain stops the servers: no new connections, open answers may finish
// within timeout. Answers still open then are ended properly (a stream with
// an OpenAI error event and [DONE], see server.AbortOpen) and get abortGrace
// to send that and record their usage before the remaining connections are
// closed. It returns when no handler runs any more (or abortGrace ran out).
func drain(servers []boundServer, timeout time.Duration, a drainer, log *slog.Logger) {
	shutdownAll := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		errs := make([]error, len(servers))
		var wg sync.WaitGroup
		for i, sv := range servers {
			wg.Go(func() { errs[i] = sv.srv.Shutdown(ctx) })
		}
		wg.Wait()
		return ctx.Err() // listener close errors do not matter here
	}
	if shutdownAll(timeout) != nil {
		n := a.AbortOpen()
		log.Warn("shutdown timeout: ending the answers still open with an error event", "open", n)
		if shutdownAll(abortGrace) != nil {
			log.Warn("closing the connections still open")
			for _, sv := range servers {
				_ = sv.srv.Close()
			}
		}
	}
	// Handlers of connections cut by Close may still be finishing: their
	// usage rows must be queued before the recorder drains.
	wctx, cancel := context.WithTimeout(context.Background(), abortGrace)
	defer cancel()
	if err := a.WaitIdle(wctx); err != nil {
		log.Warn("requests still running at shutdown; their usage rows may be lost", "error", err)
	}
}

type boundServer struct {
	srv *http.Server
	ln  net.Listener
}

// listen binds the public API, the admin API and the pprof listener.
func listen(cfg config.Config, a *app.App, log *slog.Logger) ([]boundServer, error) {
	var out []boundServer
	fail := func(err error) ([]boundServer, error) {
		for _, b := range out {
			_ = b.ln.Close()
		}
		return nil, err
	}
	bind := func(addr string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("listen %s: %w", addr, err)
		}
		out = append(out, boundServer{ln: ln, srv: &http.Server{
			Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}})
		return ln.Addr().String(), nil
	}
	addr, err := bind(cfg.Listen, a.Handler)
	if err != nil {
		return fail(err)
	}
	mode := "accounts"
	if cfg.Passthrough {
		mode = "passthrough"
	}
	log.Info("qwenrelay listening", "addr", addr, "base_url", "http://"+addr+"/v1", "upstream", cfg.UpstreamURL,
		"protocol", cfg.Protocol, "mode", mode, "data_dir", cfg.DataDir, "version", versionString())
	if cfg.APIKey == "" && !cfg.Passthrough {
		if any, err := a.Keys.AnyKeys(context.Background()); err == nil && !any {
			log.Warn("no API key yet: callers on this machine (loopback, not through a proxy) are served without one " +
				"until a client key is created (qwenrelay keys create) or QWENRELAY_API_KEY is set")
		} else {
			log.Info("client keys exist: every caller needs a valid key, loopback included")
		}
	}
	if a.Pool != nil && len(a.Pool.Status(context.Background())) == 0 {
		log.Warn("no Qwen account yet: add one with 'qwenrelay accounts add --token ...' or QWENRELAY_QWEN_TOKENS")
	}
	if a.AdminHandler != nil {
		adminAddr, err := bind(cfg.AdminListen, adminWithMetrics(cfg.AdminKey, a.AdminHandler, a.Metrics.Handler()))
		if err != nil {
			return fail(err)
		}
		log.Info("admin API listening", "addr", adminAddr)
	} else if !cfg.Passthrough {
		log.Info("admin API off: set QWENRELAY_ADMIN_KEY to enable it")
	}
	if cfg.PprofListen != "" {
		pprofAddr, err := bind(cfg.PprofListen, pprofMux())
		if err != nil {
			return fail(err)
		}
		log.Info("pprof listening", "addr", pprofAddr)
	}
	if cfg.ReadyFile != "" {
		if err := os.WriteFile(cfg.ReadyFile, []byte(addr), 0o644); err != nil {
			return fail(fmt.Errorf("ready file: %w", err))
		}
	}
	return out, nil
}

// adminWithMetrics also serves GET /metrics on the admin listener, behind
// the admin key (on the API listener /metrics follows the API's key rule).
func adminWithMetrics(adminKey string, admin, metrics http.Handler) http.Handler {
	want := sha256.Sum256([]byte(adminKey))
	mux := http.NewServeMux()
	mux.Handle("/", admin)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("Authorization")
		if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
			token = strings.TrimSpace(token[7:])
		} else {
			token = ""
		}
		got := sha256.Sum256([]byte(token))
		if adminKey == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			b, _ := json.Marshal(openai.NewError(openai.TypeAuthentication, "invalid_admin_key", "",
				"Incorrect or missing admin key. Send 'Authorization: Bearer <admin key>'."))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(b)
			return
		}
		metrics.ServeHTTP(w, r)
	})
	return mux
}

// pprofMux serves net/http/pprof.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

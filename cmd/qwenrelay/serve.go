package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

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
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, sv := range servers {
		if err := sv.srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown timeout: closing remaining connections", "error", err)
			_ = sv.srv.Close()
		}
	}
	// Handlers of connections cut by Close may still be finishing: their
	// usage rows must be queued before the recorder drains.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := a.WaitIdle(wctx); err != nil {
		log.Warn("requests still running at shutdown; their usage rows may be lost", "error", err)
	}
	wcancel()
	stopBG()
	<-bgDone
	if err := a.Close(sctx); err != nil {
		log.Error("closing", "error", err)
		serveErr = errors.Join(serveErr, err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
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
		"protocol", cfg.Protocol, "mode", mode, "data_dir", cfg.DataDir, "version", version)
	if cfg.APIKey == "" && !cfg.Passthrough {
		log.Warn("QWENRELAY_API_KEY is not set: callers without a client key are accepted only from this machine (loopback)")
	}
	if a.Pool != nil && len(a.Pool.Status(context.Background())) == 0 {
		log.Warn("no Qwen account yet: add one with 'qwenrelay accounts add --token ...' or QWENRELAY_QWEN_TOKENS")
	}
	if a.AdminHandler != nil {
		adminAddr, err := bind(cfg.AdminListen, a.AdminHandler)
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

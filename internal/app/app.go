// Package app wires qwenrelay's parts together from one Config. main, the
// CLI and the end-to-end tests all build the relay through it, so tests run
// what ships.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/qwenrelay/qwenrelay/internal/catalog"

	"github.com/qwenrelay/qwenrelay/internal/admin"
	"github.com/qwenrelay/qwenrelay/internal/config"
	"github.com/qwenrelay/qwenrelay/internal/keys"
	"github.com/qwenrelay/qwenrelay/internal/media"
	"github.com/qwenrelay/qwenrelay/internal/metrics"
	"github.com/qwenrelay/qwenrelay/internal/pool"
	"github.com/qwenrelay/qwenrelay/internal/qwen"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"github.com/qwenrelay/qwenrelay/internal/secrets"
	"github.com/qwenrelay/qwenrelay/internal/server"
	"github.com/qwenrelay/qwenrelay/internal/store/sqlite"
	"github.com/qwenrelay/qwenrelay/internal/usage"
	"github.com/qwenrelay/qwenrelay/internal/video"
)

// DBFileName is the embedded database's file inside the data directory.
const DBFileName = "qwenrelay.db"

// App is a built relay.
type App struct {
	Handler      http.Handler
	AdminHandler http.Handler // nil when no admin key is configured
	Metrics      *metrics.Metrics
	Pool         *pool.Pool // nil in passthrough mode
	Keys         *keys.Service
	Store        *sqlite.DB
	Recorder     *usage.Recorder

	transport *http.Transport
	provider  *qwen.Client
	log       *slog.Logger
	server    *server.Server
	videos    *video.Service // nil in passthrough mode
}

// NewLogger builds the process logger from the config.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenStore opens (creating on first use) the embedded store in the data
// directory, with secrets sealed by the master key.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlite.DB, error) {
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("cannot use the data directory %q (QWENRELAY_DATA_DIR or --data-dir): %w", cfg.DataDir, err)
	}
	key, created, err := secrets.LoadKey(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	if created && log != nil {
		log.Warn("created a new master key: back it up with the database, tokens cannot be decrypted without it",
			"file", filepath.Join(cfg.DataDir, secrets.KeyFileName))
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(cfg.DataDir, DBFileName)
	db, err := sqlite.Open(ctx, dbPath, box)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database %q in the data directory: %w", dbPath, err)
	}
	return db, nil
}

// prepareDataDir creates the data directory if needed and checks that the
// database can live there, so that a bad directory is reported with its
// cause (SQLite itself only says "unable to open database file").
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err // names the path element at fault, e.g. "mkdir data: not a directory"
	}
	if fi, err := os.Stat(filepath.Join(dir, DBFileName)); err == nil && fi.IsDir() {
		return fmt.Errorf("%s in it is a directory, not a database file", DBFileName)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in it: %w", err)
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// New builds the relay described by cfg, opening the store.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	tr, err := upstreamTransport(cfg)
	if err != nil {
		return nil, err
	}
	provider, err := NewProvider(cfg, &http.Client{Transport: tr}, log)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{Metrics: metrics.New(), Store: st, transport: tr, provider: provider, log: log}
	a.Keys = keys.NewService(st, nil, st)
	a.Recorder = usage.NewRecorder(st, usage.Options{Retention: cfg.UsageRetention}, log)
	var picker relay.Picker
	if !cfg.Passthrough {
		a.Pool = NewPool(cfg, st, provider, tr, a.Metrics, log)
		if err := importEnvTokens(ctx, cfg, st, log); err != nil {
			_ = st.Close()
			return nil, err
		}
		if err := a.Pool.Load(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("load accounts: %w", err)
		}
		picker = a.Pool
	}
	rl := relay.New(provider, relay.Options{Attempts: cfg.RetryAttempts, Budget: cfg.RetryBudget, Backoff: cfg.RetryBackoff}, a.Metrics, log)
	aliases, err := catalog.ParseAliases(cfg.ModelAliases)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	surfaces := []server.Surface{responsesSurface(st, cfg.ResponsesRetention, cfg.ResponsesWebSearch, log), anthropicSurface(cfg.MaxRequestBytes)}
	if a.Pool != nil {
		a.videos = newVideos(cfg, st, provider, a.Pool, log)
		surfaces = append(surfaces, videosSurface(a.videos))
	}
	srv := server.New(server.Options{
		APIKey: cfg.APIKey, Passthrough: cfg.Passthrough, MaxInFlight: cfg.MaxInFlight,
		MaxRequestBytes: cfg.MaxRequestBytes, HeartbeatInterval: cfg.HeartbeatInterval,
		ModelsTTL: cfg.ModelsTTL, CORSOrigins: cfg.CORSOrigins,
		ModelAliases: aliases, ToolRetries: cfg.ToolRetries,
		Keys: a.Keys, Usage: a.Recorder,
		Media:    &media.Fetcher{AllowPrivate: cfg.AllowPrivateMediaURLs, MaxBytes: cfg.MediaMaxBytes, Timeout: cfg.MediaFetchTimeout},
		Surfaces: surfaces,
	}, rl, picker, a.Metrics, log)
	a.Handler, a.server = srv.Handler(), srv
	if cfg.AdminKey != "" && a.Pool != nil {
		a.AdminHandler = admin.New(cfg.AdminKey, poolAccounts{a.Pool}, a.Keys, st, log)
	}
	return a, nil
}

// NewPool builds the account pool from the config.
func NewPool(cfg config.Config, st *sqlite.DB, provider *qwen.Client, tr *http.Transport, m *metrics.Metrics, log *slog.Logger) *pool.Pool {
	var obs pool.Observer
	if m != nil {
		obs = m
	}
	rate := cfg.AccountRate
	if rate == 0 {
		rate = -1 // the pool reads 0 as "its default"; the config's 0 means no pacing
	}
	if cfg.AccountMinInterval > 0 && log != nil {
		log.Warn("account_min_interval is deprecated: it replaces account_rate and account_burst with a minimum interval between any two requests on an account",
			slog.Duration("account_min_interval", cfg.AccountMinInterval))
	}
	probe := cfg.QuarantineProbeFirst
	if !cfg.QuarantineProbe {
		probe = -1 // never
	}
	return pool.New(pool.Options{
		MaxConcurrent:      cfg.AccountMaxConcurrent,
		Rate:               rate,
		Burst:              cfg.AccountBurst,
		MinInterval:        cfg.AccountMinInterval, // deprecated; > 0 replaces Rate and Burst
		AcquireTimeout:     cfg.AcquireTimeout,
		HealthInterval:     cfg.HealthInterval,
		QuarantineProbe:    probe,
		QuarantineProbeMax: cfg.QuarantineProbeMax,
		RefreshBefore:      cfg.RefreshBefore,
		BaseTransport:      tr,
	}, st, provider, pool.NewMemoryLive(), obs, log)
}

// Run runs the background work (pool upkeep, usage writing) until ctx ends.
func (a *App) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Recorder.Run(ctx)
	}()
	if a.videos != nil {
		videosDone := make(chan struct{})
		go func() {
			defer close(videosDone)
			_ = a.videos.Run(ctx) // unfinished jobs stay in the store for the next start
		}()
		defer func() { <-videosDone }()
	}
	if a.Pool != nil {
		a.Pool.Run(ctx)
		a.Pool.Wait() // state saves and sign-ins started by requests
	}
	<-done
}

// WaitIdle waits until no API request is being served, so their usage rows
// are queued before Close; call it after the HTTP servers stopped.
func (a *App) WaitIdle(ctx context.Context) error { return a.server.WaitIdle(ctx) }

// AbortOpen ends the API requests still open (a stream with an error event
// and [DONE], others with 503 server_shutting_down); call it when the
// shutdown grace period has run out. It returns how many were open.
func (a *App) AbortOpen() int { return a.server.AbortOpen() }

// Close flushes queued usage rows, waits for pending upstream chat
// deletions (until ctx ends) and closes the store. Call it after the HTTP
// servers have stopped and Run has returned.
func (a *App) Close(ctx context.Context) error {
	err := a.Recorder.Close(ctx)
	if cerr := a.provider.Close(ctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("upstream chat clean-up: %w", cerr))
	}
	a.transport.CloseIdleConnections()
	return errors.Join(err, a.Store.Close())
}

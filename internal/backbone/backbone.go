// Package backbone gives hearth its NATS JetStream connection: an embedded
// server (the single-node default) or a connection to an external cluster.
package backbone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says where the backbone lives.
type Config struct {
	// URL of an external NATS cluster. Empty embeds a server.
	URL string
	// DataDir holds the embedded server's JetStream files.
	DataDir string
	// Listen, when set (host:port), makes the embedded server accept client
	// connections over TCP; by default it takes only the in-process connection.
	// Port 0 picks a free port (see ClientURL).
	Listen string
	// SyncAlways makes the embedded server fsync every write (slower, survives
	// power loss); the default syncs every two minutes and survives a process crash.
	SyncAlways bool
	Logger     *slog.Logger
}

// Backbone is an open connection to JetStream.
type Backbone struct {
	// Conn is the NATS connection; JS is JetStream over it.
	Conn *nats.Conn
	JS   jetstream.JetStream

	srv *server.Server // nil when external
}

// Open starts an embedded server (or dials cfg.URL) and connects to it.
func Open(ctx context.Context, cfg Config) (*Backbone, error) {
	if cfg.URL != "" {
		nc, err := nats.Connect(cfg.URL, nats.Name("hearth"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.URL, err)
		}
		return newBackbone(nc, nil)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("backbone: DataDir is required for the embedded server")
	}
	opts := &server.Options{
		ServerName: "hearth",
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		DontListen: cfg.Listen == "",
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: cfg.SyncAlways,
		// NATS's default 1 MiB leaves no room for headers around a 1 MiB
		// state value or a 6 MiB async payload.
		MaxPayload: 8 << 20,
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
		if port == 0 {
			// To nats-server, port 0 means its default, 4222.
			opts.Port = server.RANDOM_PORT
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded NATS did not start within 30s")
	}
	// The in-process pipe reports harmless errors while draining at shutdown;
	// nats.go would print them to stderr without an error handler.
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("hearth"),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return newBackbone(nc, srv)
}

func newBackbone(nc *nats.Conn, srv *server.Server) (*Backbone, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		if srv != nil {
			srv.Shutdown()
		}
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Backbone{Conn: nc, JS: js, srv: srv}, nil
}

// ClientURL is the nats:// URL at which the embedded server takes TCP
// clients; empty when it takes none (Config.Listen unset) or when the
// backbone is an external cluster.
func (b *Backbone) ClientURL() string {
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// Close drains the connection and stops the embedded server, if any.
func (b *Backbone) Close() error {
	err := b.Conn.Drain()
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return err
}

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("backbone listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("backbone listen port %q: %w", portStr, err)
	}
	return host, port, nil
}

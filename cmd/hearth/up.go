package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hearth-sh/hearth/internal/node"
)

func newUpCommand() *cobra.Command {
	var cfg node.Config
	var logFormat, logLevel, syncMode string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a node with embedded defaults (NATS JetStream in-process, data under ./.hearth)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg.Logger = logger
			if cfg.SyncAlways, err = syncAlways(syncMode, cfg.SyncAlways); err != nil {
				return err
			}
			ctx := cmd.Context()
			n, err := node.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Printf("hearth node listening on %s (data in %s)\n", n.URL(), cfg.DataDir)
			if url := n.Backbone().ClientURL(); url != "" {
				fmt.Printf("embedded NATS takes clients at %s\n", url)
			}
			fmt.Printf("deploy a first function:\n  hearth deploy hello ./examples/hello\n  hearth invoke hello --data '{\"name\":\"world\"}'\n")
			select {
			case <-ctx.Done():
			case err := <-n.Done():
				logger.Error("api server stopped", "err", err)
			}
			fmt.Println("stopping…")
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return n.Stop(stopCtx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", envOr("HEARTH_DATA", ".hearth"), "data directory (env HEARTH_DATA)")
	f.StringVar(&cfg.Listen, "listen", envOr("HEARTH_LISTEN", "127.0.0.1:8080"), "HTTP API address (env HEARTH_LISTEN); a non-loopback address needs --token")
	f.StringVar(&cfg.NATSURL, "nats-url", os.Getenv("HEARTH_NATS_URL"), "use an external NATS cluster instead of the embedded server")
	f.StringVar(&cfg.NATSListen, "nats-listen", "", "let the embedded NATS server accept TCP clients on this host:port (port 0: a free one)")
	f.StringVar(&syncMode, "sync", "interval", "when the embedded backbone fsyncs: interval (every 2 min; survives a process crash) or always (every write; survives power loss, about 10× slower)")
	f.BoolVar(&cfg.SyncAlways, "sync-always", false, "same as --sync always")
	_ = f.MarkDeprecated("sync-always", "use --sync always")
	f.StringArrayVar(&cfg.Stores, "store", nil, "add a state store NAME=nats|memory|redis://…|postgres://… (repeatable; see docs/state.md)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", os.Getenv("HEARTH_OTLP_ENDPOINT"), "export traces with OTLP/HTTP to this host:port or URL (off by default)")
	f.Float64Var(&cfg.TraceRate, "trace-rate", 20, "most new traces recorded per second (a caller's sampled trace is always continued; -1: no limit)")
	f.Float64Var(&cfg.TraceSample, "trace-sample", 1, "fraction of requests, by trace id, that may start a new trace, e.g. 0.01; --trace-rate still caps them (the stricter wins)")
	f.BoolVar(&cfg.TelemetryOff, "telemetry-off", false, "record no metrics, spans or dashboard views on the invoke path (logs stay)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	// The token flag is global (it is also what the client sends).
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		cfg.Token, _ = cmd.Flags().GetString("token")
	}
	return cmd
}

// syncAlways reads the --sync flag; legacy is --sync-always, which asks
// for always whatever --sync says.
func syncAlways(mode string, legacy bool) (bool, error) {
	switch mode {
	case "interval":
		return legacy, nil
	case "always":
		return true, nil
	}
	return false, fmt.Errorf("--sync %q: use interval or always", mode)
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

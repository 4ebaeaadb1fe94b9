package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/user"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/registry"
)

// app holds the configuration and the connections the service commands
// use, opened on first use so that `starter offline` needs no services.
type app struct {
	cfg    config.Config
	log    *logrus.Logger
	stdout io.Writer
	stderr io.Writer

	temporal client.Client
	store    *artifact.Store
	registry *registry.Registry
}

// newApp reads the settings and sets up logging. A setting the environment
// gets wrong is a settingsError.
func newApp(stdout, stderr io.Writer) (*app, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, settingsError{err}
	}
	log, err := logging.New(stderr, cfg.Log.Format, logging.Text, cfg.Log.Level)
	if err != nil {
		return nil, settingsError{err}
	}
	return &app{cfg: cfg, log: log, stdout: stdout, stderr: stderr}, nil
}

func (a *app) close() {
	if a.temporal != nil {
		a.temporal.Close()
	}
	if a.registry != nil {
		_ = a.registry.Close()
	}
}

func (a *app) temporalClient(ctx context.Context) (client.Client, error) {
	if a.temporal == nil {
		// The SDK's informational lines are noise on a terminal.
		sdkLog, err := logging.New(a.stderr, a.cfg.Log.Format, logging.Text, "warn")
		if err != nil {
			return nil, err
		}
		c, err := client.DialContext(ctx, client.Options{
			HostPort: a.cfg.Temporal.Address, Namespace: a.cfg.Temporal.Namespace, Logger: logging.NewTemporal(sdkLog),
		})
		if err != nil {
			return nil, fmt.Errorf("connect to Temporal at %s (is it up? `go tool task up`): %w", a.cfg.Temporal.Address, err)
		}
		a.temporal = c
	}
	return a.temporal, nil
}

func (a *app) artifacts(ctx context.Context) (*artifact.Store, error) {
	if a.store == nil {
		s, err := artifact.New(a.cfg.S3)
		if err != nil {
			return nil, err
		}
		if err := s.CheckBucket(ctx); err != nil {
			return nil, err
		}
		a.store = s
	}
	return a.store, nil
}

func (a *app) models(ctx context.Context) (*registry.Registry, error) {
	if a.registry == nil {
		r, err := registry.Open(ctx, a.cfg.DatabaseURL, a.log)
		if err != nil {
			return nil, err
		}
		a.registry = r
	}
	return a.registry, nil
}

// uploadFile puts a local file in the bucket under its content address,
// refusing what POST /v1/uploads refuses.
func (a *app) uploadFile(ctx context.Context, path string) (artifact.Ref, error) {
	if err := checkUpload(path); err != nil {
		return artifact.Ref{}, err
	}
	s, err := a.artifacts(ctx)
	if err != nil {
		return artifact.Ref{}, err
	}
	ref, err := s.PutFile(ctx, artifact.Raw, path, ".csv", "text/csv")
	if err != nil {
		return artifact.Ref{}, fmt.Errorf("upload %s: %w", path, err)
	}
	a.log.WithFields(logrus.Fields{"file": path, "key": ref.Key, "bytes": ref.Size}).Info("uploaded")
	return ref, nil
}

// printJSON writes v indented to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// withApp adapts a command body that needs the app.
func withApp(fn func(ctx context.Context, a *app, args []string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := newApp(cmd.OutOrStdout(), cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer a.close()
		return fn(cmd.Context(), a, args)
	}
}

func lookupUser() (string, bool) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, true
	}
	return "", false
}

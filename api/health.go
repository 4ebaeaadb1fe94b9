package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prodcat/prodcat/internal/auth"
)

// readyTimeout bounds the registry ping of /readyz; probes come often and
// should fail fast.
const readyTimeout = 2 * time.Second

// livez answers as long as the process serves HTTP.
func (s *server) livez(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when a model is loaded and the registry answers, so
// the instance can take traffic, and 503 otherwise or while shutting down.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, codeNotReady, "shutting down")
	}
	m := s.models.Current()
	if m == nil {
		return errorf(http.StatusServiceUnavailable, codeNotReady, "no model loaded yet (none is promoted to production, or loading failed: see the logs)")
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.registry.Ping(ctx); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeNotReady, message: "the registry does not answer", cause: err}
	}
	return writeJSON(w, http.StatusOK, struct {
		Status string   `json:"status"`
		Model  modelRef `json:"model"`
	}{"ready", modelRef{Name: m.Name, Version: m.Version}})
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	s.metrics.http.ServeHTTP(w, r)
	return nil
}

// whoami tells the demo page who is signed in and with which role.
func (s *server) whoami(w http.ResponseWriter, _ *http.Request, p *auth.Principal) error {
	return writeJSON(w, http.StatusOK, struct {
		User string    `json:"user"`
		Role auth.Role `json:"role"`
	}{p.Name, p.Role})
}

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

// readyz answers 200 when a model is loaded, so the instance can take
// prediction traffic, and 503 otherwise or while shutting down. The
// registry's state is reported, not required: predictions never touch it,
// and a database failover must not take every instance out of rotation.
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
	registry := "ok"
	switch err := s.registry.Ping(ctx); {
	case err != nil:
		registry = "unavailable"
		if !s.registryDown.Swap(true) {
			s.log.WithError(err).Warn("api: readiness: the registry does not answer; predictions go on, model reloads and admin calls wait for it")
		}
	case s.registryDown.Swap(false):
		s.log.Info("api: readiness: the registry answers again")
	}
	return writeJSON(w, http.StatusOK, struct {
		Status   string   `json:"status"`
		Model    modelRef `json:"model"`
		Registry string   `json:"registry"`
		// AliasVersion is set when the alias points at a version that
		// could not be loaded, so an older one is served.
		AliasVersion int `json:"alias_version,omitempty"`
	}{"ready", modelRef{Name: m.Name, Version: m.Version}, registry, s.models.Behind()})
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	s.metrics.serve(w, r, s.metricsToken)
	return nil
}

// whoami tells the demo page who is signed in and with which role.
func (s *server) whoami(w http.ResponseWriter, _ *http.Request, p *auth.Principal) error {
	return writeJSON(w, http.StatusOK, struct {
		User string    `json:"user"`
		Role auth.Role `json:"role"`
	}{p.Name, p.Role})
}

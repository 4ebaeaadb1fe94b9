package main

import (
	"net/http"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
)

// Data feeds are published from the command line (starter feed publish),
// which uploads the files; the API shows them and trains on them.

func (s *server) listFeeds(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	feeds, err := s.registry.Feeds(ctx)
	if err != nil {
		return fromDependency("the registry", err)
	}
	return writeJSON(w, http.StatusOK, struct {
		Feeds []registry.FeedVersion `json:"feeds"`
	}{feeds})
}

func (s *server) getFeed(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	name := r.PathValue("name")
	versions, err := s.registry.FeedHistory(ctx, name)
	if err != nil {
		return fromDependency("the registry", err)
	}
	return writeJSON(w, http.StatusOK, struct {
		Name     string                 `json:"name"`
		Versions []registry.FeedVersion `json:"versions"`
	}{name, versions})
}

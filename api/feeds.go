package main

import (
	"cmp"
	"encoding/json"
	"net/http"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
)

// Data feeds are published here (after POST /v1/uploads) or from the
// command line (starter feed publish); the API shows them and trains on them.

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

// maxNoteBytes bounds the note of a feed version.
const maxNoteBytes = 1 << 10

// publishRequest makes source the feed's latest version.
type publishRequest struct {
	Source activities.Source `json:"source"`
	Note   string            `json:"note"`
}

// publishFeed adds a version to a feed (creating it with version 1), so the
// next run of every schedule on it trains on the new data. Publishing what
// the latest version already names adds nothing and answers 200 instead of
// 201.
func (s *server) publishFeed(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req publishRequest
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := registry.CheckFeedName(name); err != nil {
		return badRequest("%v", err)
	}
	if len(req.Note) > maxNoteBytes {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "note is %d bytes; the limit is %d", len(req.Note), maxNoteBytes)
	}
	if req.Source.Feed != "" {
		return badRequest("source.feed: a feed version names objects, not another feed")
	}
	if err := cmp.Or(req.Source.Validate(), req.Source.CheckColumns()); err != nil { // the first mistake only
		return badRequest("%v", err)
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if err := s.checkObjects(ctx, req.Source, "", "source."); err != nil {
		return err
	}
	src, err := json.Marshal(req.Source)
	if err != nil {
		return err
	}
	v, added, err := s.registry.PublishFeed(ctx, name, src, p.Name, req.Note)
	if err != nil {
		return fromDependency("the registry", err)
	}
	s.log.WithFields(map[string]any{"feed": name, "version": v.Version, "added": added, "user": p.Name}).Info("api: feed published")
	status := http.StatusOK
	if added {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/feeds/"+name)
	}
	return writeJSON(w, status, struct {
		registry.FeedVersion
		Added bool `json:"added"`
	}{v, added})
}

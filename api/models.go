package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/registry"
)

func (s *server) listModels(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	models, err := s.registry.Models(ctx)
	if err != nil {
		return fromDependency("the registry", err)
	}
	return writeJSON(w, http.StatusOK, struct {
		Models []registry.Model `json:"models"`
	}{models})
}

// modelDetail is a registered model with its versions, aliases and the
// history of its alias moves, newest first.
type modelDetail struct {
	Name     string               `json:"name"`
	Aliases  map[string]int       `json:"aliases"`
	Versions []registry.Version   `json:"versions"`
	History  []registry.AliasMove `json:"history"`
}

func (s *server) getModel(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	name := r.PathValue("name")
	d := modelDetail{Name: name}
	var err error
	if d.Versions, err = s.registry.Versions(ctx, name); err != nil {
		return fromDependency("the registry", err)
	}
	if d.Aliases, err = s.registry.Aliases(ctx, name); err != nil {
		return fromDependency("the registry", err)
	}
	if d.History, err = s.registry.AliasHistory(ctx, name); err != nil {
		return fromDependency("the registry", err)
	}
	return writeJSON(w, http.StatusOK, d)
}

// versionDetail is a model version with its lineage and its evaluation
// report (per-class metrics and the confusion matrix).
type versionDetail struct {
	registry.Version
	// Dataset is the data set it was trained on; null when the registry
	// no longer has it.
	Dataset *registry.Dataset `json:"dataset"`
	// Report is the evaluation on the holdout; null with ReportError set
	// when it cannot be read.
	Report      *activities.Report `json:"report"`
	ReportError string             `json:"report_error,omitempty"`
	// ReportURL is where this API serves the report (admin).
	ReportURL string `json:"report_url,omitempty"`
	// Moves are the alias moves to and from it, newest first, with who
	// made them and why: the gate's reason for the run that registered
	// it, then any promotion or rollback.
	Moves []registry.AliasMove `json:"moves"`
	// MovesError says why Moves is empty when the alias history cannot be
	// read.
	MovesError string `json:"moves_error,omitempty"`
}

// maxReportBytes bounds the evaluation report a version's answer
// includes. Reports list at most metrics.MaxConfused mistakes, but one
// written before that bound could hold a matrix of millions of cells.
const maxReportBytes = 8 << 20

func (s *server) getVersion(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	name := r.PathValue("name")
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n <= 0 {
		return badRequest("version %q: want a positive integer", r.PathValue("version"))
	}
	v, err := s.registry.Version(ctx, name, n)
	if err != nil {
		return fromDependency("the registry", err)
	}
	d := versionDetail{Version: v, Moves: []registry.AliasMove{}}
	if history, err := s.registry.AliasHistory(ctx, name); err == nil {
		d.Moves = registry.MovesOf(history, v.Version)
	} else {
		s.log.WithError(err).WithField("model", name).Warn("api: alias history of a version not readable")
		d.MovesError = "the alias history cannot be read right now"
	}
	if ds, err := s.registry.Dataset(ctx, v.DatasetDigest); err == nil {
		d.Dataset = &ds
	} else {
		s.log.WithError(err).WithField("dataset", v.DatasetDigest).Warn("api: dataset of a version not readable")
	}
	if v.ReportKey != "" {
		d.ReportURL = "/v1/reports/" + path.Base(v.ReportKey)
	}
	if v.ReportKey == "" {
		d.ReportError = "this version has no evaluation report"
	} else if data, err := s.store.GetMax(ctx, v.ReportKey, maxReportBytes); errors.Is(err, artifact.ErrTooLarge) {
		d.ReportError = fmt.Sprintf("the evaluation report is larger than %d MiB, too large to include here; it is %s in the bucket", maxReportBytes>>20, v.ReportKey)
	} else if err != nil {
		s.log.WithError(err).WithField("report_key", v.ReportKey).Warn("api: evaluation report not readable")
		d.ReportError = "the evaluation report cannot be read from the bucket right now"
	} else {
		var rep activities.Report
		if err := json.Unmarshal(data, &rep); err != nil {
			s.log.WithError(err).WithField("report_key", v.ReportKey).Error("api: evaluation report is not valid JSON")
			d.ReportError = "the evaluation report is malformed"
		} else {
			d.Report = &rep
		}
	}
	return writeJSON(w, http.StatusOK, d)
}

// aliasRequest moves an alias to a version, or back one promotion (see
// registry.UndoTarget).
type aliasRequest struct {
	Version  int  `json:"version"`
	Rollback bool `json:"rollback"`
	// Remove removes the alias (not production); a rollback puts it back.
	Remove bool   `json:"remove"`
	Reason string `json:"reason"`
	// ExpectedVersion, when set, is where the caller saw the alias: the
	// move happens only if it still points there (409 otherwise), so two
	// people undoing the same bad version undo it once.
	ExpectedVersion *int `json:"expected_version"`
}

func (s *server) moveAlias(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req aliasRequest
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(req.Reason) == "":
		return badRequest("reason is required: say why the alias moves (it is kept in the alias history)")
	case len(req.Reason) > registry.MaxNoteBytes:
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "reason is %d bytes; the limit is %d", len(req.Reason), registry.MaxNoteBytes)
	case req.Remove && (req.Rollback || req.Version != 0):
		return badRequest("remove takes a reason (and expected_version), no version or rollback")
	case req.Remove && req.ExpectedVersion != nil && *req.ExpectedVersion == 0:
		return badRequest("expected_version 0 says the alias is not set: there is nothing to remove")
	case req.Rollback && req.Version != 0:
		return badRequest("give either version or rollback, not both")
	case !req.Rollback && !req.Remove && req.Version <= 0:
		return badRequest("version: want a positive version number (or rollback: true, or remove: true)")
	case req.ExpectedVersion != nil && *req.ExpectedVersion < 0:
		return badRequest("expected_version: want the version the alias points at now (0: not set)")
	case req.ExpectedVersion != nil && *req.ExpectedVersion == 0 && req.Rollback:
		return badRequest("expected_version 0 says the alias is not set: there is nothing to roll back")
	}
	// A move checks the target's model file (verifyTimeout) between its
	// registry calls, which must not run out of time because of it.
	ctx, cancel := context.WithTimeout(r.Context(), dependencyTimeout+verifyTimeout)
	defer cancel()
	name, alias := r.PathValue("name"), r.PathValue("alias")
	exp := req.ExpectedVersion
	var (
		mv  registry.AliasMove
		err error
	)
	switch {
	case req.Remove:
		expected := -1
		if exp != nil {
			expected = *exp
		}
		mv, err = s.registry.RemoveAlias(ctx, name, alias, expected, req.Reason, p.Name)
	case req.Rollback:
		expected := -1
		if exp != nil {
			expected = *exp
		}
		check := func(v int) error { return s.checkModelFile(r.Context(), name, v) }
		mv, err = registry.RollbackChecked(ctx, s.registry, name, alias, expected, check, req.Reason, p.Name)
	default:
		if err := s.checkModelFile(r.Context(), name, req.Version); err != nil {
			return err
		}
		if exp != nil {
			mv, err = s.registry.CompareAndSetAlias(ctx, name, alias, *exp, req.Version, req.Reason, p.Name)
		} else {
			mv, err = s.registry.SetAlias(ctx, name, alias, req.Version, req.Reason, p.Name)
		}
	}
	if err != nil {
		return fromDependency("the registry", err)
	}
	s.log.WithFields(map[string]any{"model": name, "alias": alias, "from": mv.From, "to": mv.To, "moved": mv.Moved, "user": p.Name}).Info("api: alias move requested")
	return writeJSON(w, http.StatusOK, mv)
}

// verifyTimeout bounds the check of a model file's digest: a 1 GiB file
// at 60 MB/s. With the registry calls around it, it stays within the
// server's write timeout.
const verifyTimeout = 20 * time.Second

// checkModelFile refuses to point an alias at a version whose model file
// is gone from the bucket or corrupt: the API would go on serving the old
// version while the registry names the new one.
func (s *server) checkModelFile(ctx context.Context, name string, version int) error {
	rctx, cancel := context.WithTimeout(ctx, dependencyTimeout)
	v, err := s.registry.Version(rctx, name, version)
	cancel()
	if err != nil {
		return fromDependency("the registry", err)
	}
	return s.verifyModelFile(ctx, v, "point the alias at another version")
}

// verifyModelFile answers 409 when version v's model file is gone from the
// bucket or corrupt, with hint saying what to do instead.
func (s *server) verifyModelFile(ctx context.Context, v registry.Version, hint string) error {
	// The whole file is read and hashed, which takes longer than a
	// registry call for a large model.
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	switch err := s.store.Verify(vctx, v.ArtifactKey); {
	case errors.Is(err, artifact.ErrNotFound):
		return errorf(http.StatusConflict, codeConflict, "version %d of %s has no model file: %s is not in the bucket; %s", v.Version, v.Model, v.ArtifactKey, hint)
	case errors.Is(err, artifact.ErrCorrupt):
		return errorf(http.StatusConflict, codeConflict, "version %d of %s has a corrupt model file: the bytes of %s do not match its digest; %s", v.Version, v.Model, v.ArtifactKey, hint)
	case err != nil:
		return fromDependency("the artifact store", err)
	}
	return nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

package main

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
)

// reportName is the name of a report in the bucket: an evaluation report
// or the rejected rows of an ingest, which a training's error names.
var reportName = regexp.MustCompile(`^[0-9a-f]{64}(\.rejects)?\.json$`)

// maxServedReportBytes bounds a report served whole: it is read and checked
// against its digest before the first byte is sent.
const maxServedReportBytes = 64 << 20

// getReport serves a report from the bucket, so that an API user can read
// the rejected rows a failed ingest names without access to the bucket.
func (s *server) getReport(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	name := r.PathValue("name")
	if !reportName.MatchString(name) {
		return badRequest("report %q: want <sha256>.json or <sha256>.rejects.json, as a training's error or a data set's rejects_key names it", name)
	}
	return s.serveObject(w, r, artifact.Report+"/"+name, "report", maxServedReportBytes, "application/json")
}

// serveObject answers with the object at key, what it is, whole: at most
// max bytes, read and checked against its digest before the first byte is
// sent.
func (s *server) serveObject(w http.ResponseWriter, r *http.Request, key, what string, max int64, contentType string) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	data, err := s.store.GetMax(ctx, key, max)
	switch {
	case errors.Is(err, artifact.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "no %s %s in the bucket", what, path.Base(key))
	case errors.Is(err, artifact.ErrTooLarge):
		return errorf(http.StatusNotImplemented, codeTooLarge, "%s %s is larger than %d MiB, more than the API serves; read %s from the bucket", what, path.Base(key), max>>20, key)
	case err != nil:
		return fromDependency("the artifact store", fmt.Errorf("read %s %s: %w", what, path.Base(key), err))
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(data) // a failed write means the client left
	return nil
}

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
)

// upload puts a CSV file (the challenge's X or Y file, or a generic CSV) in
// the bucket under its content address and answers with its key, for a
// training or a feed version to name: what starter upload does, for callers
// without access to the bucket. Uploading the same bytes again answers the
// same key. The content is checked when a training reads it.
func (s *server) upload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if r.ContentLength > s.maxUploadBytes {
		return tooLargeUpload(s.maxUploadBytes)
	}
	// A catalogue takes longer to send and store than the server's
	// deadlines for other requests allow.
	deadline := time.Now().Add(uploadTimeout)
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(deadline), rc.SetWriteDeadline(deadline)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	// Sized up front when the length is known, with the room ReadFrom
	// wants for its last read: growing by doubling would hold up to twice
	// the file.
	buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxUploadBytes))
	data := buf.Bytes()
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLargeUpload(mbe.Limit)
	case err != nil:
		return badRequest("reading the upload: %v", err)
	case len(data) == 0:
		return badRequest("the body is empty; send the CSV file")
	}
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	ref, err := s.store.Put(ctx, artifact.Raw, data, ".csv", "text/csv")
	if err != nil {
		return unavailable("the artifact store", err)
	}
	s.log.WithFields(map[string]any{"key": ref.Key, "bytes": ref.Size, "user": p.Name}).Info("api: data uploaded")
	return writeJSON(w, http.StatusCreated, ref)
}

// uploadTimeout bounds an upload, from reading the body to storing it.
const uploadTimeout = 10 * time.Minute

func tooLargeUpload(limit int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "upload larger than %d bytes (PRODCAT_MAX_UPLOAD_BYTES)", limit)
}

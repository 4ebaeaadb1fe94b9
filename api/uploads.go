package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/dataset"
)

// uploadTimeout bounds an upload, from reading the body to storing it.
const uploadTimeout = 10 * time.Minute

// uploadSpoolPattern names the temporary files uploads go through.
const uploadSpoolPattern = "prodcat-upload-*.csv"

// sweepUploads removes the upload files in dir that a process killed
// mid-upload left behind: those untouched for longer than any upload may
// take, so that another API's upload under way is left alone. It returns
// how many it removed.
func sweepUploads(dir string, now time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, uploadSpoolPattern))
	if err != nil {
		return 0, err
	}
	var removed int
	var errs []error
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil || now.Sub(info.ModTime()) <= uploadTimeout {
			continue // gone meanwhile, or possibly under way
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// upload puts a CSV file (the challenge's X or Y file, or a generic CSV) in
// the bucket under its content address and answers with its key, for a
// training or a feed version to name: what starter upload does, for callers
// without access to the bucket. Uploading the same bytes again answers the
// same key. A compressed body or one that is not text (a NUL byte in its
// first 8 KiB) is refused; the rest of the content is checked when a
// training reads it.
//
// The body goes to a temporary file on its way to the bucket, so an upload
// costs disk, not memory, however large it is and however many run at once.
func (s *server) upload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if r.ContentLength > s.maxUploadBytes {
		return tooLargeUpload(s.maxUploadBytes)
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return errorf(http.StatusUnsupportedMediaType, codeUnsupportedType, "Content-Encoding %q: send the CSV uncompressed", enc)
	}
	// A catalogue takes longer to send and store than the server's
	// deadlines for other requests allow.
	deadline := time.Now().Add(uploadTimeout)
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(deadline), rc.SetWriteDeadline(deadline)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	f, err := os.CreateTemp("", uploadSpoolPattern)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	head := &headWriter{max: dataset.TextSniffBytes}
	n, err := io.Copy(io.MultiWriter(f, head), http.MaxBytesReader(w, r.Body, s.maxUploadBytes))
	err = errors.Join(err, f.Close())
	if err != nil {
		return uploadReadError(r, err)
	}
	if n == 0 {
		return badRequest("the body is empty; send the CSV file")
	}
	if i := bytes.IndexByte(head.b, 0); i >= 0 {
		return badRequest("the body is not text (a NUL byte at offset %d); send the CSV file", i)
	}
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	ref, err := s.store.PutFile(ctx, artifact.Raw, f.Name(), ".csv", "text/csv")
	if err != nil {
		return unavailable("the artifact store", err)
	}
	s.log.WithFields(map[string]any{"key": ref.Key, "bytes": ref.Size, "user": p.Name}).Info("api: data uploaded")
	return writeJSON(w, http.StatusCreated, ref)
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   []byte
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// uploadReadError explains why the body of an upload could not be read.
func uploadReadError(r *http.Request, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLargeUpload(mbe.Limit)
	}
	if e := clientReadError(r, err, "the upload", uploadTimeout); e != nil {
		return e
	}
	return err // the temporary file: our side
}

// clientReadError explains a failure to read the body named what that
// lies with the client, or returns nil: a deadline is 408, a client gone
// is answered as context.Canceled, and a body cut short is 400. Network
// errors are not quoted, since they name the server's addresses.
func clientReadError(r *http.Request, err error, what string, limit time.Duration) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errorf(http.StatusRequestTimeout, codeTimeout, "%s took longer than %v to arrive", what, limit)
	case r.Context().Err() != nil:
		return context.Canceled // the client went away; answered as such
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("%s ended before its Content-Length", what)
	}
	return nil
}

func tooLargeUpload(limit int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "upload larger than %d bytes (PRODCAT_MAX_UPLOAD_BYTES)", limit)
}

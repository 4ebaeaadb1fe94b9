package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/artifact"
)

// upload posts body as text/csv with the admin's credentials.
func (h *harness) upload(body, contentType string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(body))
	r.SetBasicAuth(adminUser, adminPass)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

func TestUpload(t *testing.T) {
	h := newHarness(t)
	csv := "title,category\nred cotton shirt,top\n"
	var ref artifact.Ref
	w := h.upload(csv, "text/csv; charset=utf-8")
	if w.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	decodeBody(t, w, &ref)
	key, digest := artifact.Key(artifact.Raw, []byte(csv), ".csv")
	if ref.Key != key || ref.Digest != digest || ref.Size != int64(len(csv)) {
		t.Errorf("answer %+v, want key %s", ref, key)
	}
	if got, err := h.store.Get(t.Context(), key); err != nil || string(got) != csv {
		t.Errorf("stored %q, %v", got, err)
	}
	// The key names it for a training right away.
	body := `{"source": {"csv_key": "` + key + `", "text_cols": ["title"], "label_col": "category"}}`
	if w := h.do("POST", "/v1/trainings", asAdmin, body); w.Code != http.StatusAccepted {
		t.Errorf("training on the upload: %d %s", w.Code, w.Body)
	}

	wantError(t, h.upload("", "text/csv"), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.upload(csv, "application/json"), http.StatusUnsupportedMediaType, codeUnsupportedType)
	wantError(t, h.upload(csv, "text/plain"), http.StatusUnsupportedMediaType, codeUnsupportedType)
	wantError(t, h.upload(strings.Repeat("a,b\n", testMaxUpload/4+1), "text/csv"), http.StatusRequestEntityTooLarge, codeTooLarge)
	r := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(csv))
	r.SetBasicAuth(predictUser, predictPass)
	r.Header.Set("Content-Type", "text/csv")
	w = httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	wantError(t, w, http.StatusForbidden, codeForbidden)
	h.store.mu.Lock()
	h.store.down = errors.New(errDownText)
	h.store.mu.Unlock()
	wantError(t, h.upload(csv+"x", "text/csv"), http.StatusServiceUnavailable, codeUnavailable)
}

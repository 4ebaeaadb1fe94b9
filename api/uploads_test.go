package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/sirupsen/logrus"
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
	if got, err := h.store.GetMax(t.Context(), key, 1<<20); err != nil || string(got) != csv {
		t.Errorf("stored %q, %v", got, err)
	}
	// The key names it for a training right away.
	body := `{"source": {"csv_key": "` + key + `", "text_cols": ["title"], "label_col": "category"}}`
	if w := h.do("POST", "/v1/trainings", asAdmin, body); w.Code != http.StatusAccepted {
		t.Errorf("training on the upload: %d %s", w.Code, w.Body)
	}
	// A CSV's declared charset is the dataset reader's to deal with.
	for _, ct := range []string{"text/csv; charset=us-ascii", "text/csv; charset=iso-8859-1"} {
		if w := h.upload("title,category\nblue jeans,bottom\n", ct); w.Code != http.StatusCreated {
			t.Errorf("upload as %s: %d %s", ct, w.Code, w.Body)
		}
	}

	wantError(t, h.upload("", "text/csv"), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.upload(csv, "application/json"), http.StatusUnsupportedMediaType, codeUnsupportedType)
	wantError(t, h.upload(csv, "text/plain"), http.StatusUnsupportedMediaType, codeUnsupportedType)
	// Binary data and compressed bodies are not taken for a CSV.
	msg := wantError(t, h.upload("title,category\nchaise\x00\x01,meuble\n", "text/csv"), http.StatusBadRequest, codeBadRequest)
	if !strings.Contains(msg, "NUL byte at offset 21") {
		t.Errorf("binary upload: %q", msg)
	}
	gz := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(csv))
	gz.SetBasicAuth(adminUser, adminPass)
	gz.Header.Set("Content-Type", "text/csv")
	gz.Header.Set("Content-Encoding", "gzip")
	wg := httptest.NewRecorder()
	h.h.ServeHTTP(wg, gz)
	wantError(t, wg, http.StatusUnsupportedMediaType, codeUnsupportedType)
	big := strings.Repeat("a,b\n", testMaxUpload/4+1)
	wantError(t, h.upload(big, "text/csv"), http.StatusRequestEntityTooLarge, codeTooLarge)
	// Without a Content-Length, the limit stops the read itself.
	r0 := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(big))
	r0.ContentLength = -1
	r0.SetBasicAuth(adminUser, adminPass)
	r0.Header.Set("Content-Type", "text/csv")
	w0 := httptest.NewRecorder()
	h.h.ServeHTTP(w0, r0)
	wantError(t, w0, http.StatusRequestEntityTooLarge, codeTooLarge)
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

// An upload may take longer than the server's deadlines for other
// requests: its own deadline reaches the connection through the response
// writer the handlers get.
func TestSlowUploadOutlivesTheServerDeadlines(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewUnstartedServer(h.h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		for i := range 6 {
			fmt.Fprintf(pw, "slow product %d,shoes\n", i)
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/uploads", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPass)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("a slow upload: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a slow upload: %d", resp.StatusCode)
	}
}

// A request body that stops arriving gets 408, and the message quotes no
// network error, which would name the server's addresses.
func TestSlowBodyIsATimeout(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewUnstartedServer(h.h)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		fmt.Fprint(pw, `{"designation": "chai`)
		// Then nothing, past the read deadline.
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/predict", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("a stalled body: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if e := body.Error; resp.StatusCode != http.StatusRequestTimeout || e.Code != codeTimeout || e.Message == "" || strings.Contains(e.Message, "127.0.0.1") {
		t.Errorf("a stalled body: %d %+v; want 408 %s without addresses", resp.StatusCode, body.Error, codeTimeout)
	}
}

// An upload still arriving when a stopping API's shutdown timeout ends is
// cut: its connection closes, its temporary file is removed, and the stop
// is a clean one.
func TestShutdownCutsASlowUpload(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	hs := newHTTPServer(h.h, io.Discard)
	go func() {
		served <- serveHTTP(ctx, hs, startServing(hs, ln), h.srv, 0, 200*time.Millisecond, logrus.New())
	}()

	// A client that sends the start of its CSV and then stalls.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "title,label\nPompe de piscine,2583\n"
	fmt.Fprintf(conn, "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s",
		base64.StdEncoding.EncodeToString([]byte(adminUser+":"+adminPass)), testMaxUpload, head)
	spooled := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, "prodcat-upload-*"))
		return m
	}
	for len(spooled()) == 0 {
		time.Sleep(5 * time.Millisecond) // the handler has started spooling
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("a stop that cut an upload: %v, want a clean stop", err)
	}
	if left := spooled(); len(left) != 0 {
		t.Errorf("the cut upload left %v behind", left)
	}
}

// Upload files left behind by a killed process are swept at start, once
// older than any upload may take; younger ones may be another's under way.
func TestSweepUploads(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("a,b\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := write("prodcat-upload-1.csv", uploadTimeout+time.Minute)
	fresh := write("prodcat-upload-2.csv", time.Minute)
	other := write("someone-else.csv", 24*time.Hour)
	n, err := sweepUploads(dir, now)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1 removed", n, err)
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

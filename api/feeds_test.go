package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/registry"
)

func TestListFeeds(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Feeds []registry.FeedVersion `json:"feeds"`
	}
	decodeBody(t, h.do("GET", "/v1/feeds", asPredict, ""), &got)
	if len(got.Feeds) != 1 || got.Feeds[0].Feed != testFeed || got.Feeds[0].Version != 2 || got.Feeds[0].Note != "nightly export" {
		t.Fatalf("feeds %+v, want %s at version 2", got.Feeds, testFeed)
	}
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/feeds", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestGetFeed(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Name     string                 `json:"name"`
		Versions []registry.FeedVersion `json:"versions"`
	}
	decodeBody(t, h.do("GET", "/v1/feeds/"+testFeed, asPredict, ""), &got)
	if got.Name != testFeed || len(got.Versions) != 2 || got.Versions[0].Version != 2 || got.Versions[1].Version != 1 {
		t.Fatalf("feed %+v, want versions 2 then 1", got)
	}
	wantError(t, h.do("GET", "/v1/feeds/nope", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("DELETE", "/v1/feeds/"+testFeed, asAdmin, ""), http.StatusMethodNotAllowed, codeMethodNotAllowed)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/feeds/"+testFeed, asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestPublishFeed(t *testing.T) {
	h := newHarness(t)
	body := `{"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}, "note": "export of 2026-11-22"}`
	w := h.do("POST", "/v1/feeds/nightly-export", asAdmin, body)
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/v1/feeds/nightly-export" {
		t.Fatalf("first publish: %d %s (Location %q)", w.Code, w.Body, w.Header().Get("Location"))
	}
	var got struct {
		registry.FeedVersion
		Added bool `json:"added"`
	}
	decodeBody(t, w, &got)
	if !got.Added || got.Version != 1 || got.Actor != adminUser || got.Note != "export of 2026-11-22" {
		t.Errorf("published %+v, want version 1 added by %s with the note", got, adminUser)
	}
	var src map[string]any
	if err := json.Unmarshal(got.Source, &src); err != nil || src["x_key"] != xKey || src["y_key"] != yKey {
		t.Errorf("source %s, want the two keys", got.Source)
	}
	// The same objects again: nothing added.
	w = h.do("POST", "/v1/feeds/nightly-export", asAdmin, body)
	decodeBody(t, w, &got)
	if w.Code != http.StatusOK || got.Added {
		t.Errorf("publishing the same objects: %d, added %v; want 200, not added", w.Code, got.Added)
	}

	missing := "raw/" + strings.Repeat("d", 64) + ".csv"
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"object not in the bucket", "/v1/feeds/nightly-export", `{"source": {"csv_key": "` + missing + `", "text_cols": ["t"], "label_col": "l"}}`, 400, codeBadRequest},
		{"not a content address", "/v1/feeds/nightly-export", `{"source": {"csv_key": "raw/products.csv", "text_cols": ["t"], "label_col": "l"}}`, 400, codeBadRequest},
		{"a model as data", "/v1/feeds/nightly-export", `{"source": {"x_key": "models/` + strings.Repeat("e", 64) + `.bin", "y_key": "` + yKey + `"}}`, 400, codeBadRequest},
		{"a column the file lacks", "/v1/feeds/nightly-export", `{"source": {"csv_key": "` + xKey + `", "text_cols": ["nosuchcol"], "label_col": "label"}}`, 400, codeBadRequest},
		{"Y given as X", "/v1/feeds/nightly-export", `{"source": {"x_key": "` + yKey + `", "y_key": "` + yKey + `"}}`, 400, codeBadRequest},
		{"X and Y swapped", "/v1/feeds/nightly-export", `{"source": {"x_key": "` + yKey + `", "y_key": "` + xKey + `"}}`, 400, codeBadRequest},
		{"label read as text", "/v1/feeds/nightly-export", `{"source": {"csv_key": "` + xKey + `", "text_cols": ["title", "category"], "label_col": "category"}}`, 400, codeBadRequest},
		{"a feed of a feed", "/v1/feeds/nightly-export", `{"source": {"feed": "other"}}`, 400, codeBadRequest},
		{"no source", "/v1/feeds/nightly-export", `{"note": "x"}`, 400, codeBadRequest},
		{"X without Y", "/v1/feeds/nightly-export", `{"source": {"x_key": "` + xKey + `"}}`, 400, codeBadRequest},
		{"bad name", "/v1/feeds/a%20b", body, 400, codeBadRequest},
		{"unknown field", "/v1/feeds/nightly-export", `{"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}, "version": 3}`, 400, codeUnknownField},
		{"note too long", "/v1/feeds/nightly-export", `{"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}, "note": "` + strings.Repeat("n", maxNoteBytes+1) + `"}`, 413, codeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.do("POST", tc.path, asAdmin, tc.body), tc.status, tc.code)
		})
	}
	wantError(t, h.do("POST", "/v1/feeds/nightly-export", asPredict, body), http.StatusForbidden, codeForbidden)
	h.reg.mu.Lock()
	n := len(h.reg.published)
	h.reg.mu.Unlock()
	if n != 1 {
		t.Errorf("%d versions published, want 1: refused requests published", n)
	}
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("POST", "/v1/feeds/other", asAdmin, body), http.StatusServiceUnavailable, codeUnavailable)
}

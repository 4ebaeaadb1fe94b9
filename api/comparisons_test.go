package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/activities"
)

// A comparison starts on uploaded labelled files with versions of the
// served model; what every run would fail on is refused first.
func TestStartComparison(t *testing.T) {
	h := newHarness(t)
	var started trainingStarted
	w := h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [2, 1], "x_key": "`+xKey+`", "y_key": "`+yKey+`"}`)
	decodeBody(t, w, &started)
	if w.Code != http.StatusAccepted || started.StatusURL != "/v1/comparisons/"+started.WorkflowID || w.Header().Get("Location") != started.StatusURL {
		t.Fatalf("start: %d %+v", w.Code, started)
	}
	got := h.trainer.compareIn[0]
	if got.ModelName != testModel || len(got.Versions) != 2 || got.Versions[0] != 2 || got.Source.XKey != xKey || got.Source.YKey != yKey || got.MaxRejectFraction != 0.1 {
		t.Errorf("started %+v", got)
	}
	w = h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1], "csv_key": "`+xKey+`", "text_cols": ["title"], "label_col": "label", "max_reject_fraction": 1}`)
	if w.Code != http.StatusAccepted || len(h.trainer.compareIn) != 2 {
		t.Fatalf("a CSV: %d %s", w.Code, w.Body)
	}
	if got := h.trainer.compareIn[1]; strings.Join(got.Source.TextCols, ",") != "title" || got.Source.LabelCol != "label" || got.MaxRejectFraction != 1 {
		t.Errorf("started %+v", got)
	}
	// A CSV's columns default to the ones the first version was trained on.
	h.reg.mu.Lock()
	v := h.reg.versions[2]
	v.Signature = json.RawMessage(`{"text_cols": ["title"], "label_col": "category"}`)
	h.reg.versions[2] = v
	h.reg.mu.Unlock()
	if w := h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [2, 1], "csv_key": "`+xKey+`"}`); w.Code != http.StatusAccepted {
		t.Fatalf("a CSV with the version's columns: %d %s", w.Code, w.Body)
	}
	if got := h.trainer.compareIn[2]; strings.Join(got.Source.TextCols, ",") != "title" || got.Source.LabelCol != "category" {
		t.Errorf("default columns %+v", got.Source)
	}
	// An id in use is a 409, so a job can retry without a second run.
	body := `{"id": "nightly-check", "versions": [1], "x_key": "` + xKey + `", "y_key": "` + yKey + `"}`
	if w := h.do("POST", "/v1/comparisons", asAdmin, body); w.Code != http.StatusAccepted {
		t.Fatalf("with an id: %d %s", w.Code, w.Body)
	}
	wantError(t, h.do("POST", "/v1/comparisons", asAdmin, body), http.StatusConflict, codeConflict)

	xy := `"x_key": "` + xKey + `", "y_key": "` + yKey + `"`
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{` + xy + `}`, http.StatusBadRequest, "versions: 0 given; want 1 to 10"},
		{`{"versions": [1]}`, http.StatusBadRequest, "give the labelled test set"},
		{`{"versions": [1], "x_key": "` + xKey + `"}`, http.StatusBadRequest, "give the labelled test set"},
		{`{"versions": [1, 1], ` + xy + `}`, http.StatusBadRequest, "versions: 1 is given twice"},
		{`{"versions": [0], ` + xy + `}`, http.StatusBadRequest, "versions: 0 is not a version number"},
		{`{"versions": [1,2,3,4,5,6,7,8,9,10,11], ` + xy + `}`, http.StatusBadRequest, "versions: 11 given; want 1 to 10"},
		{`{"versions": [1, 9], ` + xy + `}`, http.StatusBadRequest, "versions: model " + testModel + " has no version 9"},
		{`{"versions": [1], ` + xy + `, "csv_key": "` + xKey + `"}`, http.StatusBadRequest, "either x_key and y_key or csv_key"},
		{`{"versions": [1], "csv_key": "` + xKey + `"}`, http.StatusBadRequest, "csv_key needs text_cols and label_col"},
		{`{"versions": [1], "x_key": "` + xKey + `", "y_key": "raw/` + strings.Repeat("c", 64) + `.csv"}`, http.StatusBadRequest, `y_key \"raw/`},
		{`{"versions": [1], "csv_key": "` + xKey + `", "text_cols": ["title"], "label_col": "nope"}`, http.StatusBadRequest, `missing column(s) \"nope\"`},
		{`{"versions": [1], "csv_key": "` + xKey + `", "text_cols": ["label"], "label_col": "label"}`, http.StatusBadRequest, "label"},
		{`{"versions": [1], "x_key": "` + yKey + `", "y_key": "` + yKey + `"}`, http.StatusBadRequest, "the same object"},
		{`{"versions": [1], "x_key": "raw/` + strings.Repeat("c", 64) + `.csv", "y_key": "` + yKey + `"}`, http.StatusBadRequest, "is not in the bucket"},
		{`{"versions": [1], "x_key": "models/1.bin", "y_key": "` + yKey + `"}`, http.StatusBadRequest, "not content-addressed"},
		{`{"versions": [1], ` + xy + `, "max_reject_fraction": 0}`, http.StatusBadRequest, "max_reject_fraction 0"},
		{`{"versions": [1], "feed": "catalogue"}`, http.StatusBadRequest, "unknown field"},
		{`{"versions": [1], ` + xy + `, "id": "a b"}`, http.StatusBadRequest, `id \"a b\"`},
	} {
		w := h.do("POST", "/v1/comparisons", asAdmin, tc.body)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d and %q", tc.body, w.Code, w.Body, tc.code, tc.want)
		}
	}
	// A version whose model file is corrupt, or gone, would fail the run.
	h.store.files["models/2.bin"] = []byte("corrupt")
	w = h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1, 2], `+xy+`}`)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "version 2 of "+testModel+" has a corrupt model file") ||
		!strings.Contains(w.Body.String(), "leave it out of the comparison") {
		t.Errorf("a corrupt model file: %d %s", w.Code, w.Body)
	}
	delete(h.store.files, "models/2.bin")
	w = h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1, 2], `+xy+`}`)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "version 2 of "+testModel+" has no model file") {
		t.Errorf("a model file gone: %d %s", w.Code, w.Body)
	}
	if n := len(h.trainer.compareIn); n != 4 {
		t.Errorf("%d comparisons started, want 4", n)
	}
	wantError(t, h.do("POST", "/v1/comparisons", asPredict, `{"versions": [1], `+xy+`}`), http.StatusForbidden, codeForbidden)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1], `+xy+`}`), http.StatusServiceUnavailable, codeUnavailable)
	// What needs no service is refused as such while the registry is down.
	wantError(t, h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1, 1], `+xy+`}`), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("POST", "/v1/comparisons", asAdmin, `{"versions": [1,2,3,4,5,6,7,8,9,10,11], `+xy+`}`), http.StatusBadRequest, codeBadRequest)
}

// A comparison is read with its result once it completed, and listed as
// trainings are.
func TestGetAndListComparisons(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"c1", "c2"} {
		if w := h.do("POST", "/v1/comparisons", asAdmin, `{"id": "`+id+`", "versions": [1, 2], "x_key": "`+xKey+`", "y_key": "`+yKey+`"}`); w.Code != http.StatusAccepted {
			t.Fatalf("start %s: %d %s", id, w.Code, w.Body)
		}
	}
	res := activities.Comparison{Model: testModel, Rows: 10, Versions: []activities.VersionScore{{Version: 1, WeightedF1: 0.8}, {Version: 2, WeightedF1: 0.7}},
		Pairs: []activities.VersionPair{{A: 1, B: 2, OnlyARight: 2, McNemarP: 0.5}}}
	h.trainer.mu.Lock()
	c := h.trainer.comparisons["c2"]
	c.Status, c.Result = "completed", &res
	h.trainer.comparisons["c2"] = c
	h.trainer.mu.Unlock()

	var got comparisonRun
	decodeBody(t, h.do("GET", "/v1/comparisons/c2", asPredict, ""), &got)
	if got.Status != "completed" || got.Result == nil || got.Result.Pairs[0].OnlyARight != 2 || got.Result.Versions[1].WeightedF1 != 0.7 {
		t.Errorf("completed comparison %+v", got)
	}
	wantError(t, h.do("GET", "/v1/comparisons/nosuch", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/v1/comparisons/c2?run_id=x", asPredict, ""), http.StatusBadRequest, codeBadRequest)

	var list comparisonList
	decodeBody(t, h.do("GET", "/v1/comparisons?status=completed", asPredict, ""), &list)
	if len(list.Comparisons) != 1 || list.Comparisons[0].WorkflowID != "c2" {
		t.Errorf("completed comparisons: %+v", list)
	}
	decodeBody(t, h.do("GET", "/v1/comparisons?limit=1", asPredict, ""), &list)
	if len(list.Comparisons) != 1 || list.NextPageToken == "" {
		t.Fatalf("first page: %+v", list)
	}
	// Another list's token does not page through this one.
	if w := h.do("POST", "/v1/batch-predictions", asAdmin, `{"id": "p1", "x_key": "`+xKey+`"}`); w.Code != http.StatusAccepted {
		t.Fatal(w.Body)
	}
	if w := h.do("POST", "/v1/batch-predictions", asAdmin, `{"id": "p2", "x_key": "`+xKey+`"}`); w.Code != http.StatusAccepted {
		t.Fatal(w.Body)
	}
	var batches batchList
	decodeBody(t, h.do("GET", "/v1/batch-predictions?limit=1", asPredict, ""), &batches)
	wantError(t, h.do("GET", "/v1/comparisons?page_token="+batches.NextPageToken, asPredict, ""), http.StatusBadRequest, codeBadRequest)
	next := list.NextPageToken
	list = comparisonList{}
	decodeBody(t, h.do("GET", "/v1/comparisons?limit=1&page_token="+next, asPredict, ""), &list)
	if len(list.Comparisons) != 1 || list.NextPageToken != "" {
		t.Errorf("second page: %+v", list)
	}
	h = newHarness(t)
	if body := h.do("GET", "/v1/comparisons", asPredict, "").Body.String(); body != "{\"comparisons\":[]}\n" {
		t.Errorf("empty list: %s", body)
	}
}

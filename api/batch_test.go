package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/activities"
)

// A batch prediction starts on an uploaded file with the served model's
// version an alias points at; what every run would fail on is refused
// first.
func TestStartBatch(t *testing.T) {
	h := newHarness(t)
	var started trainingStarted
	w := h.do("POST", "/v1/batch-predictions", asAdmin, `{"x_key": "`+xKey+`"}`)
	decodeBody(t, w, &started)
	if w.Code != http.StatusAccepted || started.StatusURL != "/v1/batch-predictions/"+started.WorkflowID || w.Header().Get("Location") != started.StatusURL {
		t.Fatalf("start: %d %+v", w.Code, started)
	}
	want := activities.BatchPredictInput{ModelName: testModel, Alias: "production", XKey: xKey}
	if got := h.trainer.batchIn[0]; got.ModelName != want.ModelName || got.Alias != want.Alias || got.XKey != want.XKey || got.CSVKey != "" {
		t.Errorf("started %+v, want %+v", got, want)
	}
	w = h.do("POST", "/v1/batch-predictions", asAdmin, `{"csv_key": "`+xKey+`", "text_cols": ["title"]}`)
	if w.Code != http.StatusAccepted || len(h.trainer.batchIn) != 2 || strings.Join(h.trainer.batchIn[1].TextCols, ",") != "title" {
		t.Errorf("a CSV: %d %s, started %+v", w.Code, w.Body, h.trainer.batchIn)
	}
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{}`, http.StatusBadRequest, "exactly one of x_key"},
		{`{"x_key": "` + xKey + `", "csv_key": "` + xKey + `"}`, http.StatusBadRequest, "exactly one of x_key"},
		{`{"x_key": "` + xKey + `", "text_cols": ["title"]}`, http.StatusBadRequest, "text_cols are for csv_key"},
		// The version records no columns.
		{`{"csv_key": "` + xKey + `"}`, http.StatusBadRequest, "csv_key needs text_cols"},
		{`{"csv_key": "` + xKey + `", "text_cols": ["nope"]}`, http.StatusBadRequest, `missing column(s) \"nope\"`},
		{`{"x_key": "` + yKey + `"}`, http.StatusBadRequest, "X header"},
		{`{"x_key": "raw/` + strings.Repeat("c", 64) + `.csv"}`, http.StatusBadRequest, "is not in the bucket"},
		{`{"x_key": "models/1.bin"}`, http.StatusBadRequest, "not content-addressed"},
		{`{"x_key": "` + xKey + `", "alias": "challenger"}`, http.StatusConflict, "has no challenger version"},
		{`{"x_key": "` + xKey + `", "alias": "a b"}`, http.StatusBadRequest, `alias name \"a b\"`},
		{`{"x_key": "` + xKey + `", "model": "other"}`, http.StatusBadRequest, "unknown field"},
		{`{"csv_key": "` + xKey + `", "text_cols": [""]}`, http.StatusBadRequest, "empty name"},
	} {
		w := h.do("POST", "/v1/batch-predictions", asAdmin, tc.body)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d and %q", tc.body, w.Code, w.Body, tc.code, tc.want)
		}
	}
	// A version whose model file is gone would fail the run.
	delete(h.store.files, "models/1.bin")
	w = h.do("POST", "/v1/batch-predictions", asAdmin, `{"x_key": "`+xKey+`"}`)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "model file") {
		t.Errorf("production's file gone: %d %s", w.Code, w.Body)
	}
	if len(h.trainer.batchIn) != 2 {
		t.Errorf("refused requests started runs: %+v", h.trainer.batchIn)
	}
	wantError(t, h.do("POST", "/v1/batch-predictions", asPredict, `{"x_key": "`+xKey+`"}`), http.StatusForbidden, codeForbidden)
}

// A job that names its batch prediction can retry without starting a
// second one.
func TestStartBatchWithID(t *testing.T) {
	h := newHarness(t)
	var started trainingStarted
	body := `{"id": "nightly-2026-11-22", "x_key": "` + xKey + `"}`
	decodeBody(t, h.do("POST", "/v1/batch-predictions", asAdmin, body), &started)
	if started.WorkflowID != "nightly-2026-11-22" {
		t.Fatalf("started %+v", started)
	}
	wantError(t, h.do("POST", "/v1/batch-predictions", asAdmin, body), http.StatusConflict, codeConflict)
	wantError(t, h.do("POST", "/v1/batch-predictions", asAdmin, `{"id": "a/b", "x_key": "`+xKey+`"}`), http.StatusBadRequest, codeBadRequest)
	if len(h.trainer.batchIn) != 1 {
		t.Errorf("%d runs started, want 1", len(h.trainer.batchIn))
	}
}

// A batch prediction is read as a training is; once it completed it names
// its predictions file, which admins can fetch.
func TestGetBatchAndPredictions(t *testing.T) {
	h := newHarness(t)
	var started trainingStarted
	decodeBody(t, h.do("POST", "/v1/batch-predictions", asAdmin, `{"x_key": "`+xKey+`"}`), &started)
	var b batchRun
	decodeBody(t, h.do("GET", "/v1/batch-predictions/"+started.WorkflowID, asPredict, ""), &b)
	if b.Status != "running" || b.Result != nil || b.PredictionsURL != "" {
		t.Errorf("running batch %+v", b)
	}
	name := strings.Repeat("e", 64) + ".csv"
	h.trainer.mu.Lock()
	done := h.trainer.batches[started.WorkflowID]
	done.Status, done.Result = "completed", &activities.BatchPredictResult{PredictionsKey: "predictions/" + name, Rows: 1, ModelVersion: 1}
	h.trainer.batches[started.WorkflowID] = done
	h.trainer.mu.Unlock()
	csv := "productid,prdtypecode,category,probability,error\n1,2583,Pool and spa,0.9000,\n"
	h.store.files["predictions/"+name] = []byte(csv)
	b = batchRun{}
	decodeBody(t, h.do("GET", "/v1/batch-predictions/"+started.WorkflowID, asPredict, ""), &b)
	if b.Status != "completed" || b.PredictionsURL != "/v1/predictions/"+name {
		t.Fatalf("completed batch %+v", b)
	}
	w := h.do("GET", b.PredictionsURL, asAdmin, "")
	if w.Code != http.StatusOK || w.Body.String() != csv || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Errorf("predictions: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	// They hold rows of the data, as reports do.
	wantError(t, h.do("GET", b.PredictionsURL, asPredict, ""), http.StatusForbidden, codeForbidden)
	wantError(t, h.do("GET", "/v1/predictions/"+strings.Repeat("f", 64)+".csv", asAdmin, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/v1/predictions/..%2Freports%2Fr1.json", asAdmin, ""), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/batch-predictions/nope", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/v1/batch-predictions/"+started.WorkflowID+"?run_id=bogus", asPredict, ""), http.StatusBadRequest, codeBadRequest)
}

// Batch predictions are listed a page at a time, filtered as trainings
// are; a training list's page token does not page through them.
func TestListBatches(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"p1", "p2", "p3"} {
		if w := h.do("POST", "/v1/batch-predictions", asAdmin, `{"id": "`+id+`", "x_key": "`+xKey+`"}`); w.Code != http.StatusAccepted {
			t.Fatalf("start %s: %d %s", id, w.Code, w.Body)
		}
	}
	h.trainer.mu.Lock()
	b := h.trainer.batches["p2"]
	b.Status = "completed"
	h.trainer.batches["p2"] = b
	h.trainer.mu.Unlock()

	var list batchList
	decodeBody(t, h.do("GET", "/v1/batch-predictions?limit=2", asPredict, ""), &list)
	if len(list.BatchPredictions) != 2 || list.NextPageToken == "" {
		t.Fatalf("first page: %+v", list)
	}
	next := list.NextPageToken
	list = batchList{}
	decodeBody(t, h.do("GET", "/v1/batch-predictions?limit=2&page_token="+next, asPredict, ""), &list)
	if len(list.BatchPredictions) != 1 || list.BatchPredictions[0].WorkflowID != "p3" || list.NextPageToken != "" {
		t.Errorf("second page: %+v, want p3 alone", list)
	}
	decodeBody(t, h.do("GET", "/v1/batch-predictions?status=completed&model="+testModel, asPredict, ""), &list)
	if len(list.BatchPredictions) != 1 || list.BatchPredictions[0].WorkflowID != "p2" {
		t.Errorf("completed: %+v, want p2 alone", list)
	}
	decodeBody(t, h.do("GET", "/v1/batch-predictions?model=other", asPredict, ""), &list)
	if len(list.BatchPredictions) != 0 {
		t.Errorf("another model's: %+v, want none", list)
	}
	// Trainings are another list, with their own page tokens.
	for _, id := range []string{"a", "b", "c"} {
		if w := h.do("POST", "/v1/trainings", asAdmin, `{"id": "`+id+`", "source": {"csv_key": "`+xKey+`", "text_cols": ["title"], "label_col": "label"}}`); w.Code != http.StatusAccepted {
			t.Fatalf("start training %s: %d %s", id, w.Code, w.Body)
		}
	}
	var trainings trainingList
	decodeBody(t, h.do("GET", "/v1/trainings?limit=1", asPredict, ""), &trainings)
	if trainings.NextPageToken == "" {
		t.Fatalf("trainings: %+v", trainings)
	}
	for _, q := range []string{"page_token=" + trainings.NextPageToken, "status=done", "limit=0", "model=a%27b", "alias=production"} {
		wantError(t, h.do("GET", "/v1/batch-predictions?"+q, asPredict, ""), http.StatusBadRequest, codeBadRequest)
	}
	wantError(t, h.do("GET", "/v1/trainings?page_token="+next, asPredict, ""), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/batch-predictions", anonymous, ""), http.StatusUnauthorized, codeUnauthorized)
	h.trainer.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/batch-predictions", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)

	// An empty list is [], not null.
	h = newHarness(t)
	if body := h.do("GET", "/v1/batch-predictions", asPredict, "").Body.String(); body != "{\"batch_predictions\":[]}\n" {
		t.Errorf("empty list: %s", body)
	}
}

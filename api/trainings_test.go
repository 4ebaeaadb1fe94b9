package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/workflows"
)

func TestStartTraining(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/trainings", asAdmin, `{"source": {"x_key": "`+xKey+`", "y_key": "`+yKey+`"},
		"params": {"solver": {"c": 2}}, "gate": {"floor": 0.6}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got trainingStarted
	decodeBody(t, w, &got)
	if got.WorkflowID == "" || got.RunID == "" || got.UIURL == "" || got.StatusURL != "/v1/trainings/"+got.WorkflowID {
		t.Errorf("answer %+v", got)
	}
	if loc := w.Header().Get("Location"); loc != got.StatusURL {
		t.Errorf("Location %q", loc)
	}
	if len(h.trainer.started) != 1 {
		t.Fatalf("%d trainings started", len(h.trainer.started))
	}
	p := h.trainer.started[0]
	def := classifier.DefaultParams()
	switch {
	case p.ModelName != testModel || p.TrainingQueue != "prodcat-training" || p.Source.XKey != xKey || p.Source.YKey != yKey:
		t.Errorf("params %+v", p)
	case p.Params.Solver.C != 2 || p.Params.Solver.MaxIter != def.Solver.MaxIter || p.Params.Features != def.Features:
		t.Errorf("classifier params %+v: want C 2 and the other defaults", *p.Params)
	case p.Gate.Floor != 0.6 || p.Gate.Margin != workflows.DefaultPromotionMargin:
		t.Errorf("gate %+v: want floor 0.6 and the default margin", p.Gate)
	case p.HoldoutFraction != workflows.DefaultHoldoutFraction || p.MaxRejectFraction != workflows.DefaultMaxRejectFraction:
		t.Errorf("fractions %v %v", p.HoldoutFraction, p.MaxRejectFraction)
	}

	// A chosen ID; then the same ID again.
	body := `{"id": "train-demo-1", "source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}}`
	if w := h.do("POST", "/v1/trainings", asAdmin, body); w.Code != http.StatusAccepted {
		t.Fatalf("with an id: %d %s", w.Code, w.Body)
	}
	wantError(t, h.do("POST", "/v1/trainings", asAdmin, body), http.StatusConflict, codeConflict)

	// A gate of zeros is taken as given (promote any gain), not replaced
	// by the defaults.
	body = `{"id": "train-zero-gate", "source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}, "gate": {"margin": 0, "floor": 0}}`
	if w := h.do("POST", "/v1/trainings", asAdmin, body); w.Code != http.StatusAccepted {
		t.Fatalf("with a zero gate: %d %s", w.Code, w.Body)
	}
	if p := h.trainer.started[len(h.trainer.started)-1].WithDefaults(); p.Gate != (activities.Gate{}) {
		t.Errorf("zero gate became %+v", p.Gate)
	}
}

func TestStartTrainingErrors(t *testing.T) {
	raw := `"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}`
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty", ``, 400, codeInvalidJSON},
		{"no source", `{}`, 400, codeBadRequest},
		{"x without y", `{"source": {"x_key": "` + xKey + `"}}`, 400, codeBadRequest},
		{"key not in the bucket", `{"source": {"x_key": "raw/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.csv", "y_key": "` + yKey + `"}}`, 400, codeBadRequest},
		{"bad holdout", `{` + raw + `, "holdout_fraction": 1.5}`, 400, codeBadRequest},
		{"reject limit of 0", `{` + raw + `, "max_reject_fraction": 0}`, 400, codeBadRequest},
		{"bad params", `{` + raw + `, "params": {"solver": {"c": -1}}}`, 400, codeBadRequest},
		{"unknown param", `{` + raw + `, "params": {"solver": {"cc": 1}}}`, 400, codeUnknownField},
		{"unknown field", `{` + raw + `, "queue": "x"}`, 400, codeUnknownField},
		{"server-side field", `{` + raw + `, "training_queue": "x"}`, 400, codeUnknownField},
		{"bad id", `{` + raw + `, "id": "../../etc"}`, 400, codeBadRequest},
		{"model name with a slash", `{` + raw + `, "model_name": "team/prdtypecode"}`, 400, codeBadRequest},
		{"model name with a space", `{` + raw + `, "model_name": "my model"}`, 400, codeBadRequest},
		{"wrong type", `{` + raw + `, "holdout_fraction": "half"}`, 400, codeInvalidJSON},
		{"unpublished feed", `{"source": {"feed": "nightly-export"}}`, 400, codeBadRequest},
		{"feed and keys", `{"source": {"feed": "` + testFeed + `", "csv_key": "` + xKey + `"}}`, 400, codeBadRequest},
		{"bad feed name", `{"source": {"feed": "a/b"}}`, 400, codeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			wantError(t, h.do("POST", "/v1/trainings", asAdmin, tc.body), tc.status, tc.code)
			if len(h.trainer.started) != 0 {
				t.Error("a training started")
			}
		})
	}

	// A type error names the field by its JSON path alone.
	h := newHarness(t)
	msg := wantError(t, h.do("POST", "/v1/trainings", asAdmin, `{"source": {"csv_key": "`+xKey+`", "text_cols": "title"}}`), 400, codeInvalidJSON)
	if msg != "field source.text_cols: want an array, got string" {
		t.Errorf("type error %q", msg)
	}

	h.trainer.down = errors.New(errDownText)
	wantError(t, h.do("POST", "/v1/trainings", asAdmin, `{`+raw+`}`), http.StatusServiceUnavailable, codeUnavailable)
	h.trainer.down = nil
	h.store.down = errors.New(errDownText)
	wantError(t, h.do("POST", "/v1/trainings", asAdmin, `{`+raw+`}`), http.StatusServiceUnavailable, codeUnavailable)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("POST", "/v1/trainings", asAdmin, `{"source": {"feed": "`+testFeed+`"}}`), http.StatusServiceUnavailable, codeUnavailable)
	if len(h.trainer.started) != 0 {
		t.Error("a training started")
	}
}

func TestStartTrainingOnFeed(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/trainings", asAdmin, `{"source": {"feed": "`+testFeed+`"}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if len(h.trainer.started) != 1 || !reflect.DeepEqual(h.trainer.started[0].Source, activities.Source{Feed: testFeed}) {
		t.Errorf("started %+v, want one training on feed %s", h.trainer.started, testFeed)
	}
}

func TestGetAndListTrainings(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"a", "b", "c"} {
		if w := h.do("POST", "/v1/trainings", asAdmin, `{"id": "`+id+`", "source": {"csv_key": "`+xKey+`", "text_cols": ["title"], "label_col": "label"}}`); w.Code != 202 {
			t.Fatalf("start %s: %d %s", id, w.Code, w.Body)
		}
	}
	var tr training
	decodeBody(t, h.do("GET", "/v1/trainings/b", asPredict, ""), &tr)
	if tr.WorkflowID != "b" || tr.Status != "running" || tr.UIURL == "" {
		t.Errorf("training %+v", tr)
	}
	wantError(t, h.do("GET", "/v1/trainings/zzz", asPredict, ""), http.StatusNotFound, codeNotFound)

	var list trainingList
	decodeBody(t, h.do("GET", "/v1/trainings?limit=2", asPredict, ""), &list)
	if len(list.Trainings) != 2 || list.NextPageToken == "" {
		t.Fatalf("%d trainings with limit 2, next page %q", len(list.Trainings), list.NextPageToken)
	}
	first, next := list.Trainings, list.NextPageToken
	list = trainingList{}
	decodeBody(t, h.do("GET", "/v1/trainings?limit=2&page_token="+next, asPredict, ""), &list)
	if len(list.Trainings) != 1 || list.NextPageToken != "" {
		t.Errorf("second page: %d trainings, next page %q; want the one left and no next page", len(list.Trainings), list.NextPageToken)
	}
	seen := map[string]bool{}
	for _, tr := range append(first, list.Trainings...) {
		seen[tr.WorkflowID] = true
	}
	if len(seen) != 3 {
		t.Errorf("two pages gave %v, want a, b and c once each", seen)
	}
	decodeBody(t, h.do("GET", "/v1/trainings", asPredict, ""), &list)
	if len(list.Trainings) != 3 || list.NextPageToken != "" {
		t.Errorf("%d trainings, next page %q", len(list.Trainings), list.NextPageToken)
	}
	// Bad limits, and page tokens this API did not give for this filter:
	// mangled, too long, or given for another model.
	mangled := []byte(next)
	mangled[0] ^= 3 // always another character
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "page_token=*", "page_token=eHl6",
		"page_token=" + string(mangled), "page_token=" + strings.Repeat("A", maxPageToken+1),
		"page_token=" + next + "&model=" + testModel} {
		wantError(t, h.do("GET", "/v1/trainings?"+q, asPredict, ""), http.StatusBadRequest, codeBadRequest)
	}
	// A token the store refuses, or times out on, is the caller's mistake,
	// not an outage.
	wantError(t, h.do("GET", "/v1/trainings?page_token="+sealPageToken("", []byte("x")), asPredict, ""), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/trainings?page_token="+sealPageToken("", []byte("hang")), asPredict, ""), http.StatusBadRequest, codeBadRequest)
	// While Temporal itself times out, a good token is no mistake.
	h.trainer.down = fmt.Errorf("list: %w", context.DeadlineExceeded)
	wantError(t, h.do("GET", "/v1/trainings?limit=2&page_token="+next, asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
	h.trainer.down = nil
	// By model: the server's model has the three, another none.
	decodeBody(t, h.do("GET", "/v1/trainings?model="+testModel, asPredict, ""), &list)
	if len(list.Trainings) != 3 {
		t.Errorf("%d trainings of %s, want 3", len(list.Trainings), testModel)
	}
	decodeBody(t, h.do("GET", "/v1/trainings?model=other", asPredict, ""), &list)
	if len(list.Trainings) != 0 {
		t.Errorf("%d trainings of another model, want 0", len(list.Trainings))
	}
	wantError(t, h.do("GET", "/v1/trainings?model=a%27b", asPredict, ""), http.StatusBadRequest, codeBadRequest)
	// By status, with pages that keep to it.
	h.trainer.mu.Lock()
	for id, tr := range h.trainer.runs {
		if tr.WorkflowID != "b" {
			tr.Status = "failed"
			h.trainer.runs[id] = tr
		}
	}
	h.trainer.mu.Unlock()
	decodeBody(t, h.do("GET", "/v1/trainings?status=failed&limit=1", asPredict, ""), &list)
	if len(list.Trainings) != 1 || list.Trainings[0].Status != "failed" || list.NextPageToken == "" {
		t.Fatalf("first page of failed trainings: %+v", list)
	}
	firstFailed, failedNext := list.Trainings[0].WorkflowID, list.NextPageToken
	decodeBody(t, h.do("GET", "/v1/trainings?status=failed&limit=1&page_token="+failedNext, asPredict, ""), &list)
	if len(list.Trainings) != 1 || list.Trainings[0].Status != "failed" || list.Trainings[0].WorkflowID == firstFailed {
		t.Errorf("second page of failed trainings: %+v", list)
	}
	decodeBody(t, h.do("GET", "/v1/trainings?status=running", asPredict, ""), &list)
	if len(list.Trainings) != 1 || list.Trainings[0].WorkflowID != "b" {
		t.Errorf("running trainings: %+v, want b alone", list)
	}
	wantError(t, h.do("GET", "/v1/trainings?status=running&page_token="+failedNext, asPredict, ""), http.StatusBadRequest, codeBadRequest)
	w := h.do("GET", "/v1/trainings?status=broken", asPredict, "")
	if !strings.Contains(w.Body.String(), "want one of running, completed, failed") {
		t.Errorf("unknown status: %s", w.Body)
	}
	wantError(t, w, http.StatusBadRequest, codeBadRequest)
	// A misspelt filter is refused, not ignored.
	w = h.do("GET", "/v1/trainings?staus=failed", asPredict, "")
	if !strings.Contains(w.Body.String(), `unknown query parameter \"staus\": GET /v1/trainings takes limit, model, status, page_token`) {
		t.Errorf("unknown parameter: %s", w.Body)
	}
	wantError(t, w, http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/trainings/b?verbose=1", asPredict, ""), http.StatusBadRequest, codeBadRequest)
	// A filter given twice is not silently read as its first value.
	wantError(t, h.do("GET", "/v1/trainings?status=running&status=failed", asPredict, ""), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/models?x=1", asPredict, ""), http.StatusBadRequest, codeBadRequest)
	if w := h.do("GET", "/readyz?probe=lb", anonymous, ""); w.Code == http.StatusBadRequest {
		t.Errorf("a probe's own query parameter is refused: %d", w.Code)
	}
	h.trainer.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/trainings", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
	wantError(t, h.do("GET", "/v1/trainings/b", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)

	// An empty list is [], not null.
	h = newHarness(t)
	w = h.do("GET", "/v1/trainings", asPredict, "")
	if body := w.Body.String(); body != "{\"trainings\":[]}\n" {
		t.Errorf("empty list: %s", body)
	}
}

// An ID no workflow or schedule can have is a 404 from us, not a 503 from
// a Temporal client that cannot encode it.
func TestUnencodableIDsAreNotFound(t *testing.T) {
	h := newHarness(t)
	wantError(t, h.do("GET", "/v1/trainings/%FF", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/v1/trainings/a%00b", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("POST", "/v1/schedules/%FF/pause", asAdmin, ""), http.StatusNotFound, codeNotFound)
	if h.sched.paused {
		t.Error("a schedule was paused")
	}
	if ae := fromDependency("Temporal", serviceerror.NewInvalidArgument("WorkflowId length exceeds limit")); ae.status != http.StatusBadRequest {
		t.Errorf("Temporal's InvalidArgument answered %d, want 400", ae.status)
	}
}

// A running training can be cancelled; one that has ended, an unknown one
// and a predict user cannot.
func TestCancelTraining(t *testing.T) {
	h := newHarness(t)
	w := h.do("POST", "/v1/trainings", asAdmin, `{"id": "train-c", "source": {"x_key": "`+xKey+`", "y_key": "`+yKey+`"}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	if w := h.do("POST", "/v1/trainings/train-c/cancel", asPredict, ""); w.Code != http.StatusForbidden {
		t.Errorf("cancel as a predict user: %d", w.Code)
	}
	wantError(t, h.do("POST", "/v1/trainings/train-c/cancel?run_id=00000000-0000-4000-8000-000000000009", asAdmin, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("POST", "/v1/trainings/train-c/cancel?run_id=r-9", asAdmin, ""), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("GET", "/v1/trainings/train-c?run_id=bogus", asAdmin, ""), http.StatusBadRequest, codeBadRequest)
	var got struct {
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
		Action     string `json:"action"`
		StatusURL  string `json:"status_url"`
	}
	w = h.do("POST", "/v1/trainings/train-c/cancel", asAdmin, "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", w.Code, w.Body)
	}
	decodeBody(t, w, &got)
	if got.WorkflowID != "train-c" || got.RunID != testRunID || got.Action != "cancel_requested" || got.StatusURL != "/v1/trainings/train-c?run_id="+testRunID {
		t.Errorf("answer %+v", got)
	}
	if len(h.trainer.canceled) != 1 {
		t.Errorf("canceled %v", h.trainer.canceled)
	}
	// Now it has ended: nothing to cancel.
	wantError(t, h.do("POST", "/v1/trainings/train-c/cancel", asAdmin, ""), http.StatusConflict, codeConflict)
	wantError(t, h.do("POST", "/v1/trainings/nosuch/cancel", asAdmin, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("POST", "/v1/trainings/train-c/cancel", asAdmin, `{"why": "x"}`), http.StatusBadRequest, codeUnknownField)
	if len(h.trainer.canceled) != 1 {
		t.Errorf("refused requests cancelled: %v", h.trainer.canceled)
	}
}

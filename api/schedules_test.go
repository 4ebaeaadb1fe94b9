package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

type actionJSON struct {
	ID       string `json:"id"`
	Action   string `json:"action"`
	Note     string `json:"note"`
	WaitsFor string `json:"waits_for"`
}

func TestSchedules(t *testing.T) {
	h := newHarness(t)
	var list struct {
		Schedules []schedule.Summary `json:"schedules"`
	}
	decodeBody(t, h.do("GET", "/v1/schedules", asPredict, ""), &list)
	if len(list.Schedules) != 1 || list.Schedules[0].ID != "nightly" || list.Schedules[0].Paused {
		t.Fatalf("schedules %+v", list.Schedules)
	}

	var a actionJSON
	decodeBody(t, h.do("POST", "/v1/schedules/nightly/pause", asAdmin, `{"note": "data migration"}`), &a)
	if a.ID != "nightly" || a.Action != "paused" || a.Note != pausedByText+": data migration" {
		t.Errorf("pause answer %+v", a)
	}
	if !h.sched.paused || h.sched.note != a.Note {
		t.Errorf("schedule paused %v with note %q", h.sched.paused, h.sched.note)
	}

	a = actionJSON{}
	decodeBody(t, h.do("POST", "/v1/schedules/nightly/unpause", asAdmin, ""), &a) // the body is optional
	if a.Action != "unpaused" || h.sched.paused || !strings.HasPrefix(h.sched.note, "unpaused by "+adminUser) {
		t.Errorf("unpause: %+v, paused %v, note %q", a, h.sched.paused, h.sched.note)
	}

	a = actionJSON{}
	decodeBody(t, h.do("POST", "/v1/schedules/nightly/trigger", asAdmin, ""), &a)
	if a.Action != "triggered" || a.Note != "" || a.WaitsFor != "" || h.sched.trigger != 1 {
		t.Errorf("trigger: %+v, %d triggers", a, h.sched.trigger)
	}
	// A second waits for the run going; a third would be dropped.
	a = actionJSON{}
	decodeBody(t, h.do("POST", "/v1/schedules/nightly/trigger", asAdmin, ""), &a)
	if a.Action != "triggered" || a.WaitsFor != "retrain-nightly-1" {
		t.Errorf("second trigger: %+v", a)
	}
	w := h.do("POST", "/v1/schedules/nightly/trigger", asAdmin, "")
	if !strings.Contains(w.Body.String(), "another already waits") {
		t.Errorf("third trigger: %s", w.Body)
	}
	wantError(t, w, http.StatusConflict, codeConflict)
}

func TestScheduleErrors(t *testing.T) {
	h := newHarness(t)
	for _, action := range []string{"pause", "unpause", "trigger"} {
		wantError(t, h.do("POST", "/v1/schedules/weekly/"+action, asAdmin, ""), http.StatusNotFound, codeNotFound)
	}
	wantError(t, h.do("POST", "/v1/schedules/nightly/pause", asAdmin, `{"reason": "x"}`), http.StatusBadRequest, codeUnknownField)
	wantError(t, h.do("POST", "/v1/schedules/nightly/pause", asAdmin, `{"note": `), http.StatusBadRequest, codeInvalidJSON)
	wantError(t, h.do("POST", "/v1/schedules/nightly/pause", asAdmin, fmt.Sprintf(`{"note": %q}`, strings.Repeat("n", maxNoteBytes+1))),
		http.StatusRequestEntityTooLarge, codeTooLarge)
	if h.sched.paused {
		t.Error("a rejected request paused the schedule")
	}
	// A trigger keeps no note; one given is refused, not dropped.
	wantError(t, h.do("POST", "/v1/schedules/nightly/trigger", asAdmin, `{"note": "why"}`), http.StatusBadRequest, codeBadRequest)
	if h.sched.trigger != 0 {
		t.Error("a rejected request triggered the schedule")
	}
	h.sched.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/schedules", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
	wantError(t, h.do("POST", "/v1/schedules/nightly/trigger", asAdmin, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestGetSchedule(t *testing.T) {
	h := newHarness(t)
	var got struct {
		schedule.Summary
		Training *trainingSpec `json:"training"`
	}
	decodeBody(t, h.do("GET", "/v1/schedules/nightly", asPredict, ""), &got) // no gate_set, no training_queue
	def := classifier.DefaultParams()
	if got.ID != "nightly" || got.Training == nil || got.Training.ModelName != "rakuten" {
		t.Fatalf("schedule %+v", got)
	}
	// The defaults the schedule follows are spelt out, as PUT takes them.
	if tr := got.Training; tr.Params == nil || *tr.Params != def || tr.HoldoutFraction != workflows.DefaultHoldoutFraction ||
		tr.Gate.Floor != workflows.DefaultPromotionFloor {
		t.Errorf("training %+v", tr)
	}
	wantError(t, h.do("GET", "/v1/schedules/weekly", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("GET", "/v1/schedules/a%00b", asPredict, ""), http.StatusNotFound, codeNotFound)
	h.sched.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/schedules/nightly", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestPutSchedule(t *testing.T) {
	h := newHarness(t)
	body := `{"cron": "0 3 * * 1", "jitter": "10m", "overlap": "buffer_one", "note": "weekly retrain",
		"training": {"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}, "params": {"solver": {"c": 2}}, "gate": {"floor": 0.6}}}`
	w := h.do("PUT", "/v1/schedules/weekly", asAdmin, body)
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/v1/schedules/weekly" {
		t.Fatalf("create: %d %s (Location %q)", w.Code, w.Body, w.Header().Get("Location"))
	}
	var saved scheduleSaved
	decodeBody(t, w, &saved)
	if saved != (scheduleSaved{ID: "weekly", Created: true, ScheduleURL: "/v1/schedules/weekly"}) {
		t.Errorf("answer %+v", saved)
	}
	spec, paused := h.sched.put, h.sched.putPaused
	def := classifier.DefaultParams()
	switch {
	case spec == nil:
		t.Fatal("nothing saved")
	case paused != nil:
		t.Errorf("paused %v, want left out", *paused)
	case spec.ID != "weekly" || spec.Cron != "0 3 * * 1" || spec.Every != 0 || spec.Jitter != 10*time.Minute ||
		spec.Overlap != "buffer_one" || !spec.PauseOnFailure || spec.Note != "weekly retrain" || spec.TaskQueue != "prodcat":
		t.Errorf("spec %+v", spec)
	case spec.Training.ModelName != testModel || spec.Training.TrainingQueue != "prodcat-training" || spec.Training.Source.XKey != xKey ||
		!spec.Training.GateSet || spec.Training.Gate.Floor != 0.6 || spec.Training.Gate.Margin != workflows.DefaultPromotionMargin:
		t.Errorf("training %+v", spec.Training)
	case spec.Training.Params == nil || spec.Training.Params.Solver.C != 2 || spec.Training.Params.Features != def.Features:
		t.Errorf("classifier params %+v: want C 2 and the other defaults", spec.Training.Params)
	case spec.Training.HoldoutFraction != 0 || spec.Training.MaxRejectFraction != 0:
		// Defaults are left to the code that runs, as the starter leaves them.
		t.Errorf("fractions %v and %v: want 0, the defaults", spec.Training.HoldoutFraction, spec.Training.MaxRejectFraction)
	case h.sched.putBy != adminUser+" through the API":
		t.Errorf("by %q", h.sched.putBy)
	}

	// Replacing an existing schedule answers 200; paused is passed on.
	w = h.do("PUT", "/v1/schedules/nightly", asAdmin, `{"every": "24h", "pause_on_failure": false, "paused": true,
		"training": {"model_name": "fashion", "source": {"csv_key": "`+xKey+`", "text_cols": ["title"], "label_col": "category"}}}`)
	if w.Code != http.StatusOK || w.Header().Get("Location") != "" {
		t.Fatalf("replace: %d %s", w.Code, w.Body)
	}
	decodeBody(t, w, &saved)
	spec, paused = h.sched.put, h.sched.putPaused
	switch {
	case saved.Created:
		t.Errorf("answer %+v", saved)
	case paused == nil || !*paused:
		t.Errorf("paused %v, want true", paused)
	case spec.Every != 24*time.Hour || spec.Cron != "" || spec.PauseOnFailure || spec.Note != "":
		t.Errorf("spec %+v", spec)
	case spec.Training.ModelName != "fashion" || spec.Training.Source.CSVKey != xKey || spec.Training.Params != nil:
		t.Errorf("training %+v: want fashion's data and the default params", spec.Training)
	}
}

func TestPutScheduleErrors(t *testing.T) {
	src := `"source": {"x_key": "` + xKey + `", "y_key": "` + yKey + `"}`
	for _, tc := range []struct {
		name, id, body string
		status         int
		code           string
	}{
		{"empty", "weekly", ``, 400, codeInvalidJSON},
		{"no training", "weekly", `{"every": "24h"}`, 400, codeBadRequest},
		{"no time", "weekly", `{"training": {` + src + `}}`, 400, codeBadRequest},
		{"cron and every", "weekly", `{"cron": "0 3 * * *", "every": "24h", "training": {` + src + `}}`, 400, codeBadRequest},
		{"cron of 3 fields", "weekly", `{"cron": "0 3 *", "training": {` + src + `}}`, 400, codeBadRequest},
		{"every as a number", "weekly", `{"every": 86400, "training": {` + src + `}}`, 400, codeInvalidJSON},
		{"every not a duration", "weekly", `{"every": "daily", "training": {` + src + `}}`, 400, codeBadRequest},
		{"every under a minute", "weekly", `{"every": "30s", "training": {` + src + `}}`, 400, codeBadRequest},
		{"every zero", "weekly", `{"every": "0s", "training": {` + src + `}}`, 400, codeBadRequest},
		{"negative jitter", "weekly", `{"every": "24h", "jitter": "-1m", "training": {` + src + `}}`, 400, codeBadRequest},
		{"terminate_other", "weekly", `{"every": "24h", "overlap": "terminate_other", "training": {` + src + `}}`, 400, codeBadRequest},
		{"bad id", "we%20ekly", `{"every": "24h", "training": {` + src + `}}`, 400, codeBadRequest},
		{"bad params", "weekly", `{"every": "24h", "training": {` + src + `, "params": {"solver": {"c": -1}}}}`, 400, codeBadRequest},
		{"key not in the bucket", "weekly", `{"every": "24h", "training": {"source": {"x_key": "raw/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.csv", "y_key": "` + yKey + `"}}}`, 400, codeBadRequest},
		{"training id", "weekly", `{"every": "24h", "training": {"id": "x", ` + src + `}}`, 400, codeUnknownField},
		{"unknown field", "weekly", `{"every": "24h", "queue": "x", "training": {` + src + `}}`, 400, codeUnknownField},
		{"long note", "weekly", `{"every": "24h", "note": "` + strings.Repeat("n", maxNoteBytes+1) + `", "training": {` + src + `}}`, 413, codeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			msg := wantError(t, h.do("PUT", "/v1/schedules/"+tc.id, asAdmin, tc.body), tc.status, tc.code)
			if tc.name == "every zero" && !strings.Contains(msg, "want at least 1m") {
				t.Errorf("every 0s: %q", msg)
			}
			if h.sched.put != nil {
				t.Errorf("a refused request (%s) saved %+v", msg, h.sched.put)
			}
		})
	}
	// With the bucket and the registry down, a spec that is wrong anyway is
	// still the caller's mistake.
	h := newHarness(t)
	h.store.down, h.reg.down = errors.New(errDownText), errors.New(errDownText)
	wantError(t, h.do("PUT", "/v1/schedules/weekly", asAdmin, `{"cron": "0 3 *", "training": {`+src+`}}`), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("PUT", "/v1/schedules/we%20ekly", asAdmin, `{"every": "24h", "training": {`+src+`}}`), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("PUT", "/v1/schedules/weekly", asAdmin, `{"every": "24h", "training": {`+src+`}}`), http.StatusServiceUnavailable, codeUnavailable)
	h.store.down, h.reg.down = nil, nil
	if w := h.doAuth("PUT", "/v1/schedules/weekly", predictUser, predictPass, `{}`); w.Code != http.StatusForbidden {
		t.Errorf("as a predict user: %d", w.Code)
	}
	h.sched.down = errors.New(errDownText)
	wantError(t, h.do("PUT", "/v1/schedules/weekly", asAdmin, `{"every": "24h", "training": {`+src+`}}`), http.StatusServiceUnavailable, codeUnavailable)
}

func TestBackfillAndDeleteSchedule(t *testing.T) {
	h := newHarness(t)
	var got struct {
		ID     string      `json:"id"`
		Action string      `json:"action"`
		From   time.Time   `json:"from"`
		To     time.Time   `json:"to"`
		Runs   []time.Time `json:"runs"`
	}
	decodeBody(t, h.do("POST", "/v1/schedules/nightly/backfill", asAdmin, `{"from": "2026-11-01T03:00:00Z", "to": "2026-11-03T03:00:00+01:00"}`), &got)
	from, to := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	if got.ID != "nightly" || got.Action != "backfilled" || !got.From.Equal(from) || !got.To.Equal(to) || len(got.Runs) != 2 ||
		!got.Runs[0].Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("answer %+v: want the runs of 2 and 3 November", got)
	}
	if len(h.sched.backfills) != 1 || !h.sched.backfills[0][0].Equal(from) || !h.sched.backfills[0][1].Equal(to) {
		t.Errorf("backfills %v", h.sched.backfills)
	}
	wantError(t, h.do("POST", "/v1/schedules/nightly/backfill", asAdmin, ``), http.StatusBadRequest, codeInvalidJSON)
	for _, body := range []string{`{"from": "2026-11-01"}`, `{"from": "2026-11-01T03:00:00Z"}`, `{"from": "2026-11-02T03:00:00Z", "to": "2026-11-01T03:00:00Z"}`} {
		wantError(t, h.do("POST", "/v1/schedules/nightly/backfill", asAdmin, body), http.StatusBadRequest, codeBadRequest)
	}
	// No run due in the window: the caller's mistake, and nothing is taken.
	wantError(t, h.do("POST", "/v1/schedules/nightly/backfill", asAdmin, `{"from": "2026-11-01T03:00:00Z", "to": "2026-11-01T04:00:00Z"}`), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("POST", "/v1/schedules/weekly/backfill", asAdmin, `{"from": "2026-11-01T03:00:00Z", "to": "2026-11-01T03:00:00Z"}`), http.StatusNotFound, codeNotFound)
	if len(h.sched.backfills) != 1 {
		t.Errorf("refused backfills were taken: %v", h.sched.backfills)
	}

	var a actionJSON
	decodeBody(t, h.do("DELETE", "/v1/schedules/nightly", asAdmin, ""), &a)
	if a.ID != "nightly" || a.Action != "deleted" || len(h.sched.deleted) != 1 {
		t.Errorf("delete: %+v, deleted %v", a, h.sched.deleted)
	}
	wantError(t, h.do("DELETE", "/v1/schedules/weekly", asAdmin, ""), http.StatusNotFound, codeNotFound)
	if w := h.do("DELETE", "/v1/schedules/nightly", asPredict, ""); w.Code != http.StatusForbidden {
		t.Errorf("delete as a predict user: %d", w.Code)
	}
	if len(h.sched.deleted) != 1 {
		t.Errorf("deleted %v", h.sched.deleted)
	}
}

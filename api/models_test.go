package main

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/registry"
)

func TestListModels(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Models []registry.Model `json:"models"`
	}
	decodeBody(t, h.do("GET", "/v1/models", asPredict, ""), &got)
	if len(got.Models) != 1 || got.Models[0].Name != testModel || got.Models[0].LatestVersion != 2 || got.Models[0].Aliases["production"] != 1 {
		t.Fatalf("models %+v", got.Models)
	}
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/models", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestGetModel(t *testing.T) {
	h := newHarness(t)
	var d modelDetail
	w := h.do("GET", "/v1/models/"+testModel, asPredict, "")
	decodeBody(t, w, &d)
	if d.Name != testModel || len(d.Versions) != 2 || d.Versions[0].Version != 2 || d.Aliases["production"] != 1 ||
		len(d.History) != 1 || d.History[0].Reason != "first model" {
		t.Fatalf("model %+v", d)
	}
	if got := d.Versions[1].Aliases; len(got) != 1 || got[0] != "production" {
		t.Errorf("version 1 aliases %v", got)
	}
	wantError(t, h.do("GET", "/v1/models/nope", asPredict, ""), http.StatusNotFound, codeNotFound)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/models/"+testModel, asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestGetVersion(t *testing.T) {
	h := newHarness(t)
	var d versionDetail
	decodeBody(t, h.do("GET", "/v1/models/"+testModel+"/versions/1", asPredict, ""), &d)
	if d.Version.Version != 1 || d.DatasetDigest != datasetHash || d.CodeVersion != "abc123" || d.WorkflowID != "train-1" ||
		d.Metrics["weighted_f1"] != 0.71 || string(d.Params) != `{"solver":{"c":0.5}}` {
		t.Errorf("lineage %+v", d.Version)
	}
	if d.Dataset == nil || d.Dataset.SourceKeys[0] != xKey {
		t.Errorf("dataset %+v", d.Dataset)
	}
	// Why it is production: the gate's reason, with who moved the alias.
	if len(d.Moves) != 1 || d.Moves[0].Alias != "production" || d.Moves[0].To != 1 || d.Moves[0].Reason != "first model" {
		t.Errorf("moves of v1 %+v, want the first model's promotion", d.Moves)
	}
	if d.Report == nil || d.ReportError != "" {
		t.Fatalf("no report: %q", d.ReportError)
	}
	if d.ReportURL != "/v1/reports/"+path.Base(reportKey) {
		t.Errorf("report_url %q", d.ReportURL)
	}
	m := d.Report.Metrics
	if len(m.Labels) != 3 || len(m.Confusion) != 3 || m.Confusion[0][1] != 1 || m.Confusion[2][2] != 2 || m.N != 5 {
		t.Errorf("report labels %v confusion %v", m.Labels, m.Confusion)
	}

	h.store.down = errors.New(errDownText)
	d = versionDetail{}
	decodeBody(t, h.do("GET", "/v1/models/"+testModel+"/versions/2", asPredict, ""), &d)
	if d.Report != nil || !strings.Contains(d.ReportError, "cannot be read") {
		t.Errorf("report with the bucket down: %v %q", d.Report, d.ReportError)
	}
	if d.Moves == nil || len(d.Moves) != 0 {
		t.Errorf("moves of v2, which no alias ever pointed at: %#v, want []", d.Moves)
	}
	h.store.down = nil
	h.store.files[reportKey] = []byte("{not json")
	d = versionDetail{}
	decodeBody(t, h.do("GET", "/v1/models/"+testModel+"/versions/2", asPredict, ""), &d)
	if d.Report != nil || !strings.Contains(d.ReportError, "malformed") {
		t.Errorf("malformed report: %v %q", d.Report, d.ReportError)
	}
	// A report too large to hold is named, not read.
	h.store.files[reportKey] = make([]byte, maxReportBytes+1)
	d = versionDetail{}
	decodeBody(t, h.do("GET", "/v1/models/"+testModel+"/versions/2", asPredict, ""), &d)
	if d.Report != nil || !strings.Contains(d.ReportError, "larger than 8 MiB") || !strings.Contains(d.ReportError, reportKey) {
		t.Errorf("oversized report: %v %q", d.Report, d.ReportError)
	}

	for path, status := range map[string]int{
		"/v1/models/" + testModel + "/versions/9":   http.StatusNotFound,
		"/v1/models/nope/versions/1":                http.StatusNotFound,
		"/v1/models/" + testModel + "/versions/0":   http.StatusBadRequest,
		"/v1/models/" + testModel + "/versions/one": http.StatusBadRequest,
	} {
		code := codeNotFound
		if status == http.StatusBadRequest {
			code = codeBadRequest
		}
		wantError(t, h.do("GET", path, asPredict, ""), status, code)
	}
}

func TestMoveAlias(t *testing.T) {
	h := newHarness(t)
	path := "/v1/models/" + testModel + "/aliases/production"
	var mv registry.AliasMove
	w := h.do("POST", path, asAdmin, `{"version": 2, "reason": "better F1"}`)
	if w.Code != 200 {
		t.Fatalf("promote: %d %s", w.Code, w.Body)
	}
	decodeBody(t, w, &mv)
	if !mv.Moved || mv.From != 1 || mv.To != 2 || mv.Actor != adminUser || mv.Reason != "better F1" {
		t.Errorf("promotion %+v", mv)
	}
	if h.reg.aliases["production"] != 2 {
		t.Errorf("production at %d after promoting 2", h.reg.aliases["production"])
	}

	mv = registry.AliasMove{}
	decodeBody(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "regression in prod"}`), &mv)
	if !mv.Moved || mv.From != 2 || mv.To != 1 || mv.Actor != adminUser {
		t.Errorf("rollback %+v", mv)
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"no reason", path, `{"version": 2}`, 400, codeBadRequest},
		{"blank reason", path, `{"version": 2, "reason": " "}`, 400, codeBadRequest},
		{"reason too long", path, fmt.Sprintf(`{"version": 2, "reason": %q}`, strings.Repeat("r", registry.MaxNoteBytes+1)), 413, codeTooLarge},
		{"neither", path, `{"reason": "x"}`, 400, codeBadRequest},
		{"both", path, `{"version": 2, "rollback": true, "reason": "x"}`, 400, codeBadRequest},
		{"negative version", path, `{"version": -2, "reason": "x"}`, 400, codeBadRequest},
		{"unknown field", path, `{"version": 2, "reason": "x", "force": true}`, 400, codeUnknownField},
		{"empty body", path, ``, 400, codeInvalidJSON},
		{"unknown version", path, `{"version": 7, "reason": "x"}`, 404, codeNotFound},
		{"unknown model", "/v1/models/nope/aliases/production", `{"version": 1, "reason": "x"}`, 404, codeNotFound},
		{"rollback without history", "/v1/models/" + testModel + "/aliases/challenger", `{"rollback": true, "reason": "x"}`, 404, codeNotFound},
		{"negative expected version", path, `{"version": 2, "reason": "x", "expected_version": -1}`, 400, codeBadRequest},
		{"rollback of an alias expected unset", path, `{"rollback": true, "reason": "x", "expected_version": 0}`, 400, codeBadRequest},
		{"model file gone", "/v1/models/" + testModel + "/aliases/challenger", `{"version": 1, "reason": "x"}`, 409, codeConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "model file gone" {
				h.store.mu.Lock()
				file := h.store.files["models/1.bin"]
				delete(h.store.files, "models/1.bin")
				h.store.mu.Unlock()
				defer func() { h.store.mu.Lock(); h.store.files["models/1.bin"] = file; h.store.mu.Unlock() }()
			}
			msg := wantError(t, h.do("POST", tc.path, asAdmin, tc.body), tc.status, tc.code)
			if tc.name == "model file gone" && (!strings.Contains(msg, "models/1.bin is not in the bucket") || h.reg.aliases["challenger"] == 1) {
				t.Errorf("%q; challenger at %d", msg, h.reg.aliases["challenger"])
			}
		})
	}

	// With expected_version, two rollbacks of the same bad version undo it
	// once: production is at 1 after the rollback above; promote 2 again.
	decodeBody(t, h.do("POST", path, asAdmin, `{"version": 2, "reason": "retry", "expected_version": 1}`), &mv)
	if mv.To != 2 {
		t.Fatalf("conditional promotion %+v", mv)
	}
	wantError(t, h.do("POST", path, asAdmin, `{"version": 1, "reason": "stale view", "expected_version": 1}`), http.StatusConflict, codeConflict)
	decodeBody(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "v2 is bad", "expected_version": 2}`), &mv)
	if mv.To != 1 {
		t.Fatalf("conditional rollback %+v", mv)
	}
	wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "v2 is bad", "expected_version": 2}`), http.StatusConflict, codeConflict)
	if h.reg.aliases["production"] != 1 {
		t.Errorf("production at %d after two rollbacks of 2, want 1", h.reg.aliases["production"])
	}

	// The first setting of an alias has nothing to roll back to.
	h.reg.history = h.reg.history[:1]
	h.reg.aliases["production"] = 1
	wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "x"}`), http.StatusConflict, codeConflict)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("POST", path, asAdmin, `{"version": 2, "reason": "x"}`), http.StatusServiceUnavailable, codeUnavailable)
}

// Rollbacks go back through the promotions one after another: the second
// never brings back the version the first took out of service.
func TestRollbacksGoFurtherBack(t *testing.T) {
	h := newHarness(t)
	v3 := h.reg.versions[2]
	v3.Version, v3.ArtifactKey = 3, "models/3.bin"
	h.reg.versions[3] = v3
	h.store.files["models/3.bin"] = []byte("model 3")
	path := "/v1/models/" + testModel + "/aliases/production"
	for _, v := range []int{2, 3} {
		if w := h.do("POST", path, asAdmin, fmt.Sprintf(`{"version": %d, "reason": "x"}`, v)); w.Code != 200 {
			t.Fatalf("promote %d: %d %s", v, w.Code, w.Body)
		}
	}
	for _, want := range []int{2, 1} {
		var mv registry.AliasMove
		decodeBody(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "bad"}`), &mv)
		if mv.To != want || mv.RollbackOf == 0 {
			t.Fatalf("rollback %+v; want to %d, naming the move it undid", mv, want)
		}
	}
	msg := wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "bad"}`), http.StatusConflict, codeConflict)
	if !strings.Contains(msg, "nothing earlier to go back to") || strings.HasPrefix(msg, "registry:") || strings.HasSuffix(msg, ": conflict") || h.reg.aliases["production"] != 1 {
		t.Errorf("%q; production at %d, want 1", msg, h.reg.aliases["production"])
	}
	// Expecting another version than production's is what the caller
	// hears, rather than that there is nothing earlier.
	msg = wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "bad", "expected_version": 2}`), http.StatusConflict, codeConflict)
	if !strings.Contains(msg, "points at version 1, not the expected 2") {
		t.Errorf("rollback expecting 2 with production at 1: %q", msg)
	}
	msg = wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "bad", "expected_version": 1}`), http.StatusConflict, codeConflict)
	if !strings.Contains(msg, "nothing earlier to go back to") {
		t.Errorf("rollback expecting 1 with nothing earlier: %q", msg)
	}
}

// A rollback checks the version it goes back to, and it goes back from
// the version it read that from: an alias moved meanwhile is a conflict,
// not a rollback to a version nobody checked.
func TestRollbackRacingAMove(t *testing.T) {
	h := newHarness(t)
	path := "/v1/models/" + testModel + "/aliases/production"
	for _, v := range []int{1, 2} {
		if w := h.do("POST", path, asAdmin, fmt.Sprintf(`{"version": %d, "reason": "x"}`, v)); w.Code != 200 {
			t.Fatalf("promote %d: %d %s", v, w.Code, w.Body)
		}
	}
	// Bob moves production away and back while the file is checked: it
	// points where it did, but its last move is no longer the one checked.
	h.reg.afterTarget = func() {
		h.reg.afterTarget = nil
		for _, v := range []int{1, 2} {
			if _, err := h.reg.SetAlias(t.Context(), testModel, "production", v, "by someone else", "bob"); err != nil {
				t.Error(err)
			}
		}
	}
	msg := wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "v2 is bad"}`), http.StatusConflict, codeConflict)
	if !strings.Contains(msg, "moved meanwhile") || h.reg.aliases["production"] != 2 || len(h.reg.history) != 4 {
		t.Errorf("%q; production at %d after %d moves, want 2 after bob's two", msg, h.reg.aliases["production"], len(h.reg.history))
	}
	// An expected version that is not the alias's: nothing moves.
	msg = wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "v1 is bad", "expected_version": 1}`), http.StatusConflict, codeConflict)
	if !strings.Contains(msg, "not the expected 1") || h.reg.aliases["production"] != 2 {
		t.Errorf("%q; production at %d", msg, h.reg.aliases["production"])
	}
	// The history cannot be read: nothing moves.
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "x"}`), http.StatusServiceUnavailable, codeUnavailable)
}

// A rollback to a version whose model file is gone is refused as a
// promotion of it is: the API would go on serving the other version.
func TestRollbackToAMissingFile(t *testing.T) {
	h := newHarness(t)
	path := "/v1/models/" + testModel + "/aliases/production"
	if w := h.do("POST", path, asAdmin, `{"version": 2, "reason": "better F1"}`); w.Code != 200 {
		t.Fatalf("promote: %d %s", w.Code, w.Body)
	}
	h.store.mu.Lock()
	delete(h.store.files, "models/1.bin")
	h.store.mu.Unlock()
	msg := wantError(t, h.do("POST", path, asAdmin, `{"rollback": true, "reason": "regression"}`), 409, codeConflict)
	if !strings.Contains(msg, "models/1.bin is not in the bucket") || h.reg.aliases["production"] != 2 {
		t.Errorf("%q; production at %d", msg, h.reg.aliases["production"])
	}
	// A file whose bytes no longer match its digest is refused too.
	h.store.mu.Lock()
	h.store.files["models/1.bin"] = []byte("corrupt")
	h.store.mu.Unlock()
	msg = wantError(t, h.do("POST", path, asAdmin, `{"version": 1, "reason": "back to 1"}`), 409, codeConflict)
	if !strings.Contains(msg, "corrupt model file") || h.reg.aliases["production"] != 2 {
		t.Errorf("%q; production at %d", msg, h.reg.aliases["production"])
	}
}

// An admin reads a report the bucket holds, such as the rows an ingest
// rejected, by the name a training's error gives.
func TestGetReport(t *testing.T) {
	h := newHarness(t)
	name := strings.Repeat("d", 64) + ".rejects.json"
	h.store.files["reports/"+name] = []byte(`{"rows": 3}`)
	w := h.do("GET", "/v1/reports/"+name, asAdmin, "")
	if w.Code != http.StatusOK || w.Body.String() != `{"rows": 3}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET: %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	wantError(t, h.do("GET", "/v1/reports/"+name, asPredict, ""), http.StatusForbidden, codeForbidden)
	wantError(t, h.do("GET", "/v1/reports/"+strings.Repeat("e", 64)+".json", asAdmin, ""), http.StatusNotFound, codeNotFound)
	for _, bad := range []string{"x.json", strings.Repeat("d", 64) + ".bin", "..%2Fmodels%2F1.bin"} {
		wantError(t, h.do("GET", "/v1/reports/"+bad, asAdmin, ""), http.StatusBadRequest, codeBadRequest)
	}
	h.store.files["reports/"+name] = make([]byte, maxServedReportBytes+1)
	wantError(t, h.do("GET", "/v1/reports/"+name, asAdmin, ""), http.StatusNotImplemented, codeTooLarge)
	h.store.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/reports/"+name, asAdmin, ""), http.StatusServiceUnavailable, codeUnavailable)
}

// An alias other than production can be removed, with a reason; the
// history keeps the removal.
func TestRemoveAliasThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	path := "/v1/models/" + testModel + "/aliases/challenger"
	if w := h.do("POST", path, asAdmin, `{"version": 2, "reason": "a candidate"}`); w.Code != http.StatusOK {
		t.Fatalf("set challenger: %d %s", w.Code, w.Body)
	}
	var mv registry.AliasMove
	decodeBody(t, h.do("POST", path, asAdmin, `{"remove": true, "reason": "lost the A/B test"}`), &mv)
	if !mv.Moved || mv.From != 2 || mv.To != 0 || mv.Actor != adminUser || mv.Reason != "lost the A/B test" {
		t.Errorf("removal %+v", mv)
	}
	var d modelDetail
	decodeBody(t, h.do("GET", "/v1/models/"+testModel, asPredict, ""), &d)
	if _, ok := d.Aliases["challenger"]; ok || d.History[0].To != 0 || d.History[0].Alias != "challenger" {
		t.Errorf("after the removal: aliases %v, history %+v", d.Aliases, d.History)
	}
	wantError(t, h.do("POST", path, asAdmin, `{"remove": true, "reason": "again"}`), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("POST", "/v1/models/"+testModel+"/aliases/production", asAdmin, `{"remove": true, "reason": "oops"}`), http.StatusConflict, codeConflict)
	wantError(t, h.do("POST", path, asAdmin, `{"remove": true, "version": 2, "reason": "x"}`), http.StatusBadRequest, codeBadRequest)
	wantError(t, h.do("POST", path, asAdmin, `{"remove": true}`), http.StatusBadRequest, codeBadRequest)
	// Conditional, as moves are: a version set meanwhile is not removed unseen.
	if w := h.do("POST", path, asAdmin, `{"version": 2, "reason": "again"}`); w.Code != http.StatusOK {
		t.Fatalf("set challenger again: %d %s", w.Code, w.Body)
	}
	wantError(t, h.do("POST", path, asAdmin, `{"remove": true, "reason": "x", "expected_version": 1}`), http.StatusConflict, codeConflict)
	if w := h.do("POST", path, asAdmin, `{"remove": true, "reason": "x", "expected_version": 2}`); w.Code != http.StatusOK {
		t.Errorf("removal expecting where it points: %d %s", w.Code, w.Body)
	}
	// Retried, it is answered as a move already made is.
	mv = registry.AliasMove{}
	decodeBody(t, h.do("POST", path, asAdmin, `{"remove": true, "reason": "x", "expected_version": 2}`), &mv)
	if mv.Moved || mv.Alias != "challenger" {
		t.Errorf("retried removal %+v, want moved false", mv)
	}
	wantError(t, h.do("POST", path, asPredict, `{"remove": true, "reason": "x"}`), http.StatusForbidden, codeForbidden)
}

package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/schedule"
)

type actionJSON struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Note   string `json:"note"`
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
	if a.Action != "triggered" || a.Note != "" || h.sched.trigger != 1 {
		t.Errorf("trigger: %+v, %d triggers", a, h.sched.trigger)
	}
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

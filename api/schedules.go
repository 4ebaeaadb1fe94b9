package main

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

// Schedules are managed here as from the command line (starter schedule):
// created or replaced, shown, paused, resumed, triggered, backfilled and
// deleted. Their runs are TrainingPipeline runs on the server's task queue.

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	list, err := s.schedules.List(ctx)
	if err != nil {
		return scheduleError(err)
	}
	if list == nil {
		list = []schedule.Summary{}
	}
	return writeJSON(w, http.StatusOK, struct {
		Schedules []schedule.Summary `json:"schedules"`
	}{list})
}

func (s *server) getSchedule(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	id := r.PathValue("id")
	if err := checkTemporalID("schedule", id); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	sum, err := s.schedules.Describe(ctx, id)
	if err != nil {
		return scheduleError(err)
	}
	view := scheduleView{Summary: sum}
	if p := sum.Training; p != nil {
		// The defaults are spelt out, so that the view is a body PUT takes.
		d := p.WithDefaults()
		view.Training = &trainingSpec{
			ModelName: d.ModelName, Source: d.Source, Params: d.Params,
			HoldoutFraction: d.HoldoutFraction, MaxRejectFraction: d.MaxRejectFraction, Gate: d.Gate,
		}
	}
	return writeJSON(w, http.StatusOK, view)
}

// scheduleView is a schedule as GET /v1/schedules/{id} shows it: its
// training in the shape PUT takes.
type scheduleView struct {
	schedule.Summary
	Training *trainingSpec `json:"training,omitempty"`
}

// scheduleRequest is what PUT /v1/schedules/{id} takes: when (cron or
// every, with optional jitter), what to do when a run is still going, and
// the training each run starts.
type scheduleRequest struct {
	Cron string `json:"cron"`
	// Every and Jitter are Go durations: "24h", "90m".
	Every   string `json:"every"`
	Jitter  string `json:"jitter"`
	Overlap string `json:"overlap"`
	// PauseOnFailure defaults to true.
	PauseOnFailure bool `json:"pause_on_failure"`
	// Paused pauses or resumes the schedule; left out, an existing
	// schedule stays as it is and a new one starts running.
	Paused   *bool        `json:"paused"`
	Note     string       `json:"note"`
	Training trainingSpec `json:"training"`
}

// scheduleSaved is the answer to PUT /v1/schedules/{id}.
type scheduleSaved struct {
	ID      string `json:"id"`
	Created bool   `json:"created"`
	// ScheduleURL is where to see its next and recent runs.
	ScheduleURL string `json:"schedule_url"`
}

// putSchedule creates the schedule or replaces its spec (201 or 200). The
// training is checked as POST /v1/trainings checks it, so a schedule whose
// every run would fail at once is refused instead of failing each period.
func (s *server) putSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	req := scheduleRequest{PauseOnFailure: true, Training: s.defaultTrainingSpec()}
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Note) > schedule.MaxNoteBytes {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "note is %d bytes; the limit is %d", len(req.Note), schedule.MaxNoteBytes)
	}
	spec := workflows.ScheduleSpec{
		ID: id, Cron: req.Cron, Overlap: req.Overlap, PauseOnFailure: req.PauseOnFailure,
		Note: strings.TrimSpace(req.Note), TaskQueue: s.taskQueue,
		Training: s.trainingParams(req.Training).WithoutDefaults(),
	}
	var err error
	if spec.Every, err = parseDuration("every", req.Every); err != nil {
		return err
	}
	if req.Every != "" && spec.Every <= 0 {
		// Zero would read as "not given".
		return badRequest("every %q: want at least 1m", req.Every)
	}
	if spec.Jitter, err = parseDuration("jitter", req.Jitter); err != nil {
		return err
	}
	// Everything that needs no other service is checked first.
	if err := spec.Validate(); err != nil {
		return badRequest("%v", err)
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if err := s.checkInputs(ctx, spec.Training.Source, "training: "); err != nil {
		return err
	}
	created, err := s.schedules.Put(ctx, spec, req.Paused, p.Name+" through the API")
	if err != nil {
		return scheduleError(err)
	}
	s.log.WithFields(map[string]any{"schedule": id, "created": created, "model": spec.Training.ModelName, "user": p.Name}).Info("api: schedule saved")
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/schedules/"+id)
	}
	return writeJSON(w, status, scheduleSaved{ID: id, Created: created, ScheduleURL: "/v1/schedules/" + id})
}

// scheduleError answers an error of the schedule manager: the caller's
// mistakes as 400 or 413, a trigger Temporal would drop as 409, anything
// else as fromDependency does.
func scheduleError(err error) error {
	var inv *serviceerror.InvalidArgument
	switch {
	case errors.Is(err, schedule.ErrNoteTooLong):
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "%v", err)
	case errors.Is(err, schedule.ErrInvalidSpec), errors.Is(err, schedule.ErrNothingDue), errors.Is(err, schedule.ErrTooMany), errors.Is(err, schedule.ErrNotPast):
		return badRequest("%v", err)
	case errors.Is(err, schedule.ErrAlreadyWaiting):
		return errorf(http.StatusConflict, codeConflict, "%v", err)
	case errors.As(err, &inv):
		// Everything the caller sends is checked before Temporal is asked,
		// so what Temporal refuses is ours to fix (a search attribute not
		// registered), not the caller's.
		return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "Temporal refused the request; see the server's log", cause: err}
	}
	return fromDependency("Temporal", err)
}

// parseDuration reads an optional duration field; "" is 0.
func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, badRequest("%s %q: want a duration such as 24h or 90m", field, v)
	}
	return d, nil
}

// deleteSchedule deletes the schedule; the runs it started go on.
func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if err := checkTemporalID("schedule", id); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if err := s.schedules.Delete(ctx, id); err != nil {
		return scheduleError(err)
	}
	s.log.WithFields(map[string]any{"schedule": id, "action": "deleted", "user": p.Name}).Info("api: schedule deleted")
	return writeJSON(w, http.StatusOK, struct {
		ID     string `json:"id"`
		Action string `json:"action"`
	}{id, "deleted"})
}

// backfillRequest is what POST /v1/schedules/{id}/backfill takes: the
// runs due from From to To, both included, RFC 3339.
type backfillRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// backfillSchedule takes the runs a schedule would have taken in a past
// (or future) window, one after another unless its overlap policy allows
// more.
func (s *server) backfillSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req backfillRequest
	if err := s.decodeRequest(w, r, &req, false); err != nil {
		return err
	}
	from, err := time.Parse(time.RFC3339, req.From)
	if err != nil {
		return badRequest("from %q: want an RFC 3339 time such as 2026-11-01T03:00:00Z", req.From)
	}
	to, err := time.Parse(time.RFC3339, req.To)
	if err != nil {
		return badRequest("to %q: want an RFC 3339 time such as 2026-11-01T03:00:00Z", req.To)
	}
	if to.Before(from) {
		return badRequest("to %s is before from %s", req.To, req.From)
	}
	id := r.PathValue("id")
	if err := checkTemporalID("schedule", id); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	runs, err := s.schedules.Backfill(ctx, id, from, to)
	if err != nil {
		return scheduleError(err)
	}
	s.log.WithFields(map[string]any{"schedule": id, "action": "backfilled", "from": from, "to": to, "runs": len(runs), "user": p.Name}).Info("api: schedule backfilled")
	return writeJSON(w, http.StatusOK, struct {
		ID     string    `json:"id"`
		Action string    `json:"action"`
		From   time.Time `json:"from"`
		To     time.Time `json:"to"`
		// Runs are the times of the runs taken, which start one after
		// another unless the overlap policy allows more.
		Runs []time.Time `json:"runs"`
	}{id, "backfilled", from, to, runs})
}

// scheduleAction is the optional body of the schedule actions.
type scheduleAction struct {
	Note string `json:"note"`
}

func (s *server) pauseSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "paused", true, func(id, note string) (string, error) {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return "", s.schedules.Pause(ctx, id, note)
	})
}

func (s *server) unpauseSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "unpaused", true, func(id, note string) (string, error) {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return "", s.schedules.Unpause(ctx, id, note)
	})
}

func (s *server) triggerSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "triggered", false, func(id, _ string) (string, error) {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return s.schedules.Trigger(ctx, id)
	})
}

// scheduleAction reads the optional {"note"} body, runs act and answers
// {"id", "action", "note", "waits_for"}, with the run a triggered one waits
// for as act returns it. When the action keeps a note (pause, unpause), it
// records who acted.
func (s *server) scheduleAction(w http.ResponseWriter, r *http.Request, p *auth.Principal, done string, keepsNote bool, act func(id, note string) (waitsFor string, err error)) error {
	var req scheduleAction
	if err := s.decodeRequest(w, r, &req, true); err != nil {
		return err
	}
	if len(req.Note) > schedule.MaxNoteBytes {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "note is %d bytes; the limit is %d", len(req.Note), schedule.MaxNoteBytes)
	}
	note := ""
	if !keepsNote && strings.TrimSpace(req.Note) != "" {
		return badRequest("a %s schedule keeps no note; send no body or {}", done)
	}
	if keepsNote {
		note = schedule.StateNote(done == "paused", p.Name+" through the API", strings.TrimSpace(req.Note))
	}
	id := r.PathValue("id")
	if err := checkTemporalID("schedule", id); err != nil {
		return err
	}
	waitsFor, err := act(id, note)
	if err != nil {
		return scheduleError(err)
	}
	s.log.WithFields(map[string]any{"schedule": id, "action": done, "user": p.Name}).Info("api: schedule action")
	return writeJSON(w, http.StatusOK, struct {
		ID       string `json:"id"`
		Action   string `json:"action"`
		Note     string `json:"note,omitempty"`
		WaitsFor string `json:"waits_for,omitempty"`
	}{id, done, note, waitsFor})
}

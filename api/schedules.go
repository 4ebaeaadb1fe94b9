package main

import (
	"net/http"
	"strings"

	"github.com/prodcat/prodcat/internal/auth"
	"github.com/prodcat/prodcat/internal/schedule"
)

// maxNoteBytes bounds the note of a pause or unpause.
const maxNoteBytes = 1 << 10

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx, cancel := withTimeout(r)
	defer cancel()
	list, err := s.schedules.List(ctx)
	if err != nil {
		return fromDependency("Temporal", err)
	}
	if list == nil {
		list = []schedule.Summary{}
	}
	return writeJSON(w, http.StatusOK, struct {
		Schedules []schedule.Summary `json:"schedules"`
	}{list})
}

// scheduleAction is the optional body of the schedule actions.
type scheduleAction struct {
	Note string `json:"note"`
}

func (s *server) pauseSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "paused", true, func(id, note string) error {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return s.schedules.Pause(ctx, id, note)
	})
}

func (s *server) unpauseSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "unpaused", true, func(id, note string) error {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return s.schedules.Unpause(ctx, id, note)
	})
}

func (s *server) triggerSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.scheduleAction(w, r, p, "triggered", false, func(id, _ string) error {
		ctx, cancel := withTimeout(r)
		defer cancel()
		return s.schedules.Trigger(ctx, id)
	})
}

// scheduleAction reads the optional {"note"} body, runs act and answers
// {"id", "action", "note"}. When the action keeps a note (pause, unpause),
// it records who acted.
func (s *server) scheduleAction(w http.ResponseWriter, r *http.Request, p *auth.Principal, done string, keepsNote bool, act func(id, note string) error) error {
	var req scheduleAction
	if err := s.decodeRequest(w, r, &req, true); err != nil {
		return err
	}
	if len(req.Note) > maxNoteBytes {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "note is %d bytes; the limit is %d", len(req.Note), maxNoteBytes)
	}
	note := ""
	if !keepsNote && strings.TrimSpace(req.Note) != "" {
		return badRequest("a %s schedule keeps no note; send no body or {}", done)
	}
	if keepsNote {
		note = done + " by " + p.Name + " through the API"
		if n := strings.TrimSpace(req.Note); n != "" {
			note += ": " + n
		}
	}
	id := r.PathValue("id")
	if err := checkTemporalID("schedule", id); err != nil {
		return err
	}
	if err := act(id, note); err != nil {
		return fromDependency("Temporal", err)
	}
	s.log.WithFields(map[string]any{"schedule": id, "action": done, "user": p.Name}).Info("api: schedule " + done)
	return writeJSON(w, http.StatusOK, struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Note   string `json:"note,omitempty"`
	}{id, done, note})
}

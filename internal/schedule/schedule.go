// Package schedule manages retraining schedules on Temporal, replacing
// cron and Prefect: create-or-update from a spec, list, describe, pause,
// unpause, trigger, backfill and delete.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/prodcat/prodcat/workflows"
)

var (
	// ErrNotFound reports an unknown schedule ID.
	ErrNotFound = errors.New("schedule not found")
	// ErrInvalidSpec reports a spec Temporal refused, such as a cron
	// expression it cannot parse: the caller's mistake, not an outage.
	ErrInvalidSpec = errors.New("schedule spec refused")
	// ErrNoteTooLong reports a note of more than MaxNoteBytes.
	ErrNoteTooLong = errors.New("note too long")
	// ErrNothingDue, ErrTooMany and ErrNotPast report a backfill window
	// with no run due, with more than MaxBackfillRuns, or reaching into the
	// future, whose runs the schedule takes itself when they are due.
	ErrNothingDue = errors.New("no run is due")
	ErrTooMany    = errors.New("too many runs")
	ErrNotPast    = errors.New("not in the past")
	// ErrChanged reports a schedule changed since it was read, by a
	// conditional update (UpdateIfUnchanged).
	ErrChanged = errors.New("the schedule changed since it was read")
	// ErrAlreadyWaiting reports a trigger of a schedule whose overlap
	// policy keeps at most one run waiting (skip, buffer_one) while a run
	// is going and another already waits to follow it.
	ErrAlreadyWaiting = errors.New("a run is going and another already waits to follow it")
)

const (
	// MaxNoteBytes bounds a schedule's note, as Temporal bounds the note
	// of a pause or resume.
	MaxNoteBytes = 1000
	// MaxBackfillRuns bounds the runs one backfill takes: a year of
	// nightly runs, not a year of hourly ones by mistake.
	MaxBackfillRuns = 500
)

func checkNote(note string) error {
	if len(note) > MaxNoteBytes {
		return fmt.Errorf("%w: %d bytes; the limit is %d", ErrNoteTooLong, len(note), MaxNoteBytes)
	}
	return nil
}

// Manager runs schedule operations against one Temporal namespace.
type Manager struct {
	c         client.ScheduleClient
	svc       workflowservice.WorkflowServiceClient
	namespace string
}

// New returns a manager using c, which is connected to namespace.
func New(c client.Client, namespace string) *Manager {
	return &Manager{c: c.ScheduleClient(), svc: c.WorkflowService(), namespace: namespace}
}

// Put creates the schedule described by spec, or replaces the spec of the
// existing one, and reports whether it was created. spec.Paused is
// ignored: paused nil leaves an existing schedule paused or running as it
// is and starts a new one running; otherwise *paused pauses or resumes it.
// A change of state is noted as done by by (StateNote), with spec.Note as
// the reason; otherwise a non-empty spec.Note replaces the note. The
// update decides the state from a description read just before it writes,
// which narrows, but cannot close, the window in which a pause or resume
// made meanwhile is overwritten: Temporal offers no conditional update.
func (m *Manager) Put(ctx context.Context, spec workflows.ScheduleSpec, paused *bool, by string) (created bool, err error) {
	return m.put(ctx, spec, paused, by, false)
}

// Update is Put for a schedule that must exist: it never creates one, and
// an unknown ID is ErrNotFound.
func (m *Manager) Update(ctx context.Context, spec workflows.ScheduleSpec, paused *bool, by string) error {
	_, err := m.put(ctx, spec, paused, by, true)
	return err
}

// UpdateIfUnchanged is Update on condition that the schedule's settings
// (what Describe says of it but its runs) are still those of seen: a
// change made since seen was read is ErrChanged, not overwritten, for a
// spec merged with seen. Temporal refuses the write if the schedule
// changes while it is checked.
func (m *Manager) UpdateIfUnchanged(ctx context.Context, spec workflows.ScheduleSpec, paused *bool, by string, seen Summary) error {
	spec.Paused = paused != nil && *paused
	opts, err := spec.Options()
	if err != nil {
		return err
	}
	return m.update(ctx, spec, opts, paused, by, &seen)
}

func (m *Manager) put(ctx context.Context, spec workflows.ScheduleSpec, paused *bool, by string, mustExist bool) (created bool, err error) {
	spec.Paused = paused != nil && *paused
	opts, err := spec.Options()
	if err != nil {
		return false, err
	}
	if mustExist {
		return false, m.update(ctx, spec, opts, paused, by, nil)
	}
	if spec.Paused {
		opts.Note = StateNote(true, by, spec.Note)
	}
	if noteErr := checkNote(opts.Note); noteErr != nil {
		// Too long for a new schedule; an existing one may keep less.
		if err := m.update(ctx, spec, opts, paused, by, nil); !errors.Is(err, ErrNotFound) {
			return false, err
		}
		return false, fmt.Errorf("schedule %s: %w", spec.ID, noteErr)
	}
	_, err = m.c.Create(ctx, opts)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return false, m.update(ctx, spec, opts, paused, by, nil)
	}
	return false, fmt.Errorf("schedule %s: %w", spec.ID, invalidSpec(err))
}

// update rewrites the existing schedule as put describes, on condition,
// when seen is not nil, that its settings are still seen's.
func (m *Manager) update(ctx context.Context, spec workflows.ScheduleSpec, opts client.ScheduleOptions, paused *bool, by string, seen *Summary) error {
	err := m.c.GetHandle(ctx, spec.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			if seen != nil && !sameSettings(summaryOf(spec.ID, &in.Description), *seen) {
				return nil, ErrChanged // changes nothing
			}
			s := in.Description.Schedule
			sp := spec.Spec()
			s.Spec = &sp
			s.Action = opts.Action
			catchup := time.Duration(0)
			if s.Policy != nil {
				catchup = s.Policy.CatchupWindow
			}
			s.Policy = &client.SchedulePolicies{Overlap: opts.Overlap, PauseOnFailure: opts.PauseOnFailure, CatchupWindow: catchup}
			st := client.ScheduleState{}
			if s.State != nil {
				st = *s.State // changed below; the description stays as read
			}
			switch {
			case paused != nil && *paused != st.Paused:
				st.Paused, st.Note = *paused, StateNote(*paused, by, spec.Note)
			case spec.Note != "":
				st.Note = spec.Note
			}
			if err := checkNote(st.Note); err != nil {
				return nil, err // changes nothing
			}
			s.State = &st
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", spec.ID, invalidSpec(m.notFound(err)))
	}
	return nil
}

// StateNote is the note of a pause or resume done by by (a user, "admin
// through the API"), with why when given.
func StateNote(paused bool, by, why string) string {
	verb := "unpaused"
	if paused {
		verb = "paused"
	}
	note := verb + " by " + by
	if why != "" {
		note += ": " + why
	}
	return note
}

// Summary is one schedule in a listing.
type Summary struct {
	ID     string `json:"id"`
	Paused bool   `json:"paused"`
	Note   string `json:"note,omitempty"`
	Spec   string `json:"spec"`
	// NextRuns are the times of the next runs; none while it is paused,
	// though Temporal computes them still.
	NextRuns   []time.Time `json:"next_runs"`
	RecentRuns []Run       `json:"recent_runs"`
	// Cron or Every is the spec as given to Put, when it is one cron
	// expression or one interval (a Go duration); Jitter likewise.
	Cron   string `json:"cron,omitempty"`
	Every  string `json:"every,omitempty"`
	Jitter string `json:"jitter,omitempty"`
	// Only Describe fills in the policies and what each run trains on.
	Overlap        string                    `json:"overlap,omitempty"`
	PauseOnFailure *bool                     `json:"pause_on_failure,omitempty"`
	Training       *workflows.TrainingParams `json:"training,omitempty"`
}

// Run is one action a schedule took.
type Run struct {
	WorkflowID  string    `json:"workflow_id"`
	RunID       string    `json:"run_id"`
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
}

// List returns every schedule; none is an empty slice, so it encodes as
// [] and not null.
func (m *Manager) List(ctx context.Context) ([]Summary, error) {
	it, err := m.c.List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := []Summary{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		s := Summary{ID: e.ID, Paused: e.Paused, Note: e.Note, NextRuns: nextRuns(e.Paused, e.NextActionTimes), RecentRuns: []Run{}}
		s.describeSpec(e.Spec)
		for _, r := range e.RecentActions {
			s.RecentRuns = append(s.RecentRuns, runOf(r))
		}
		out = append(out, s)
	}
	return out, nil
}

// nonNil returns ts, or an empty slice for nil, so that no runs encode as
// [] and not null.
func nonNil(ts []time.Time) []time.Time {
	if ts == nil {
		return []time.Time{}
	}
	return ts
}

// Describe returns one schedule with its next and recent runs.
func (m *Manager) Describe(ctx context.Context, id string) (Summary, error) {
	d, err := m.c.GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("describe schedule %s: %w", id, m.notFound(err))
	}
	return summaryOf(id, d), nil
}

// sameSettings reports whether a and b describe the same settings of a
// schedule: its spec, policies, state and what it trains on, not its runs.
func sameSettings(a, b Summary) bool {
	a.NextRuns, a.RecentRuns, b.NextRuns, b.RecentRuns = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// summaryOf summarises schedule id as d describes it.
func summaryOf(id string, d *client.ScheduleDescription) Summary {
	s := Summary{ID: id, RecentRuns: []Run{}}
	s.describeSpec(d.Schedule.Spec)
	if d.Schedule.State != nil {
		s.Paused, s.Note = d.Schedule.State.Paused, d.Schedule.State.Note
	}
	s.NextRuns = nextRuns(s.Paused, d.Info.NextActionTimes)
	if p := d.Schedule.Policy; p != nil {
		s.Overlap = workflows.OverlapName(p.Overlap)
		s.PauseOnFailure = &p.PauseOnFailure
	}
	for _, r := range d.Info.RecentActions {
		s.RecentRuns = append(s.RecentRuns, runOf(r))
	}
	s.Training = trainingOf(d.Schedule.Action)
	return s
}

// nextRuns returns the times a schedule runs next: none when it is paused.
func nextRuns(paused bool, times []time.Time) []time.Time {
	if paused {
		return []time.Time{}
	}
	return nonNil(times)
}

// trainingOf returns the training parameters of a described action, nil
// when it is not a TrainingPipeline start or its arguments do not decode:
// such a schedule is still described, and can still be updated.
func trainingOf(action client.ScheduleAction) *workflows.TrainingParams {
	a, ok := action.(*client.ScheduleWorkflowAction)
	if !ok || a.Workflow != workflows.TrainingWorkflowType || len(a.Args) != 1 {
		return nil
	}
	// Described arguments come back as payloads, still encoded.
	p, ok := a.Args[0].(*commonpb.Payload)
	if !ok {
		return nil
	}
	var tp workflows.TrainingParams
	if err := converter.GetDefaultDataConverter().FromPayload(p, &tp); err != nil {
		return nil
	}
	return &tp
}

// Pause stops the schedule from taking actions, noting why.
func (m *Manager) Pause(ctx context.Context, id, note string) error {
	if err := checkNote(note); err != nil {
		return fmt.Errorf("pause schedule %s: %w", id, err)
	}
	if err := m.c.GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: note}); err != nil {
		return fmt.Errorf("pause schedule %s: %w", id, m.notFound(err))
	}
	return nil
}

// Unpause resumes the schedule.
func (m *Manager) Unpause(ctx context.Context, id, note string) error {
	if err := checkNote(note); err != nil {
		return fmt.Errorf("unpause schedule %s: %w", id, err)
	}
	if err := m.c.GetHandle(ctx, id).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}); err != nil {
		return fmt.Errorf("unpause schedule %s: %w", id, m.notFound(err))
	}
	return nil
}

// Trigger starts a run now, under the schedule's overlap policy except
// that a run still going never makes Temporal drop it without a word, as
// skip would, or buffer_one with another run already waiting. Under those
// two, the triggered run waits for the one going, and a trigger while one
// already waits is refused (ErrAlreadyWaiting); it is sent as buffer_all,
// so that of two triggers racing neither is dropped. Under terminate_other
// it cancels the run going instead, so that the run records its end. It
// returns the workflow ID of the run going that the new one waits for,
// under buffer_all after any others that already wait, as far as the
// schedule has started them when it is read.
func (m *Manager) Trigger(ctx context.Context, id string) (waitsFor string, err error) {
	// The SDK's description leaves out the buffer.
	d, err := m.svc.DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{Namespace: m.namespace, ScheduleId: id})
	if err != nil {
		return "", fmt.Errorf("trigger schedule %s: %w", id, m.notFound(err))
	}
	running := d.GetInfo().GetRunningWorkflows()
	var overlap enumspb.ScheduleOverlapPolicy // the schedule's own
	switch d.GetSchedule().GetPolicies().GetOverlapPolicy() {
	case enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE:
		if len(running) > 0 && d.GetInfo().GetBufferSize() > 0 {
			return "", fmt.Errorf("trigger schedule %s: %w (%s); trigger it again once the waiting run has started", id, ErrAlreadyWaiting, running[0].GetWorkflowId())
		}
		overlap = enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL
		if len(running) > 0 {
			waitsFor = running[0].GetWorkflowId()
		}
	case enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL:
		if len(running) > 0 {
			waitsFor = running[0].GetWorkflowId()
		}
	case enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER:
		overlap = enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
	}
	if err := m.c.GetHandle(ctx, id).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: overlap}); err != nil {
		return "", fmt.Errorf("trigger schedule %s: %w", id, m.notFound(err))
	}
	return waitsFor, nil
}

// Backfill takes the actions the schedule would have taken between start
// and end, both included, under its overlap policy, except that under skip
// (the default) they run one after another: skip would start the first and
// drop the rest. Temporal compares a slot's jittered time with end, so end
// is moved on (see backfillEnd): a slot due at end is taken too. It returns
// the (jittered) times of the runs it takes. It takes nothing, failing,
// when no run is due (ErrNothingDue), more than MaxBackfillRuns are
// (ErrTooMany), or end is in the future (ErrNotPast).
func (m *Manager) Backfill(ctx context.Context, id string, start, end time.Time) ([]time.Time, error) {
	if end.Before(start) {
		return nil, fmt.Errorf("backfill schedule %s: end %s is before start %s", id, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if end.After(time.Now()) {
		// Temporal would run future slots now, and again when they are due.
		return nil, fmt.Errorf("backfill schedule %s: end %s is %w; the schedule takes those runs when they are due (trigger runs one now)", id, end.Format(time.RFC3339), ErrNotPast)
	}
	h := m.c.GetHandle(ctx, id)
	d, err := h.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("backfill schedule %s: %w", id, m.notFound(err))
	}
	asked := end
	// A slot due by end whose jittered time is still ahead is the
	// schedule's to take, at that time.
	end = minTime(backfillEnd(d.Schedule.Spec, d.Info.NextActionTimes, end), time.Now())
	// Temporal takes a backfill's start as included by starting 1ms
	// before it; the listing is asked the same way.
	resp, err := m.svc.ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace: m.namespace, ScheduleId: id,
		StartTime: timestamppb.New(start.Add(-time.Millisecond)), EndTime: timestamppb.New(end),
	})
	if err != nil {
		return nil, fmt.Errorf("backfill schedule %s: list its times: %w", id, m.notFound(err))
	}
	times := make([]time.Time, len(resp.GetStartTime()))
	for i, t := range resp.GetStartTime() {
		times[i] = t.AsTime()
	}
	switch {
	case len(times) == 0:
		return nil, fmt.Errorf("backfill schedule %s: %w from %s to %s", id, ErrNothingDue, start.Format(time.RFC3339), asked.Format(time.RFC3339))
	case len(times) > MaxBackfillRuns:
		return nil, fmt.Errorf("backfill schedule %s: %w: more than %d runs are due from %s to %s; backfill shorter windows",
			id, ErrTooMany, MaxBackfillRuns, start.Format(time.RFC3339), asked.Format(time.RFC3339))
	}
	err = h.Backfill(ctx, client.ScheduleBackfillOptions{
		Backfill: []client.ScheduleBackfill{{Start: start, End: end, Overlap: insteadOfSkip(d, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL)}},
	})
	if err != nil {
		return nil, fmt.Errorf("backfill schedule %s: %w", id, m.notFound(err))
	}
	return times, nil
}

// backfillEnd returns the end to ask Temporal for so that the slot due at
// end is taken although its jittered time is later, and no later slot is.
// A slot's jitter stays below the gap to the next slot. For interval
// schedules the next slot after end is known, and the end moves up to just
// before it. For calendars it moves by the jitter, at most half the
// smallest gap between the next actions: with jitter, a calendar slot due
// shortly after end may be taken too.
func backfillEnd(spec *client.ScheduleSpec, next []time.Time, end time.Time) time.Time {
	if spec == nil || spec.Jitter <= 0 {
		return end
	}
	if len(spec.Calendars) == 0 && len(spec.CronExpressions) == 0 && len(spec.Intervals) > 0 {
		limit := time.Time{}
		for _, iv := range spec.Intervals {
			if iv.Every <= 0 {
				continue
			}
			// The first slot after end: Offset + k·Every since the epoch.
			since := end.Sub(time.Unix(0, 0).Add(iv.Offset))
			k := since / iv.Every
			n := time.Unix(0, 0).Add(iv.Offset).Add((k + 1) * iv.Every)
			if limit.IsZero() || n.Before(limit) {
				limit = n
			}
		}
		if !limit.IsZero() {
			return minTime(end.Add(spec.Jitter), limit.Add(-time.Millisecond))
		}
	}
	widen := spec.Jitter
	for i := 1; i < len(next); i++ {
		widen = min(widen, next[i].Sub(next[i-1])/2)
	}
	return end.Add(widen)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// insteadOfSkip returns the overlap policy for a run asked for by hand:
// instead when the schedule's policy is skip, cancel_other for a schedule
// made with terminate_other before it was refused (a terminated run cannot
// record its end in the registry), else unspecified, which keeps the
// schedule's own.
func insteadOfSkip(d *client.ScheduleDescription, instead enumspb.ScheduleOverlapPolicy) enumspb.ScheduleOverlapPolicy {
	switch p := d.Schedule.Policy; {
	case p == nil, p.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, p.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_SKIP:
		return instead
	case p.Overlap == enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER:
		return enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
	}
	return enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
}

// Delete removes the schedule; runs it started are not affected.
func (m *Manager) Delete(ctx context.Context, id string) error {
	if err := m.c.GetHandle(ctx, id).Delete(ctx); err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, m.notFound(err))
	}
	return nil
}

// invalidSpec marks Temporal's refusal of a spec as ErrInvalidSpec.
func invalidSpec(err error) error {
	var inv *serviceerror.InvalidArgument
	if errors.As(err, &inv) && strings.HasPrefix(inv.Message, "Invalid schedule spec") {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return err
}

// notFound turns Temporal's NotFound into ErrNotFound; its message names
// Temporal's internal scheduler workflow, which callers need not see.
func (m *Manager) notFound(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return ErrNotFound
	}
	return err
}

func runOf(r client.ScheduleActionResult) Run {
	run := Run{ScheduledAt: r.ScheduleTime, StartedAt: r.ActualTime}
	if r.StartWorkflowResult != nil {
		run.WorkflowID, run.RunID = r.StartWorkflowResult.WorkflowID, r.StartWorkflowResult.FirstExecutionRunID
	}
	return run
}

// describeSpec fills in Spec, a description of the spec, and Cron, Every
// and Jitter.
func (sum *Summary) describeSpec(s *client.ScheduleSpec) {
	if s == nil {
		return
	}
	var parts []string
	for _, c := range s.CronExpressions {
		parts = append(parts, "cron "+c)
		sum.Cron = c
	}
	for _, c := range s.Calendars {
		// Temporal hands a cron expression back as calendar entries.
		sum.Cron = calendarCron(c)
		parts = append(parts, "cron "+sum.Cron)
	}
	for _, iv := range s.Intervals {
		sum.Every = workflows.ShortDuration(iv.Every)
		parts = append(parts, "every "+sum.Every)
	}
	sum.Spec = strings.Join(parts, "; ")
	if len(parts) != 1 {
		// Not one of Put's specs: the description says it all.
		sum.Cron, sum.Every = "", ""
	}
	if s.Jitter > 0 {
		sum.Jitter = workflows.ShortDuration(s.Jitter)
	}
}

// calendarCron writes a calendar entry as a cron expression: five fields
// (minute hour day-of-month month day-of-week), or seven (second first,
// year last) when the seconds are not just 0 or the years are limited, as
// Temporal reads cron strings.
func calendarCron(c client.ScheduleCalendarSpec) string {
	fields := []struct {
		rs     []client.ScheduleRange
		lo, hi int
	}{{c.Second, 0, 59}, {c.Minute, 0, 59}, {c.Hour, 0, 23}, {c.DayOfMonth, 1, 31}, {c.Month, 1, 12}, {c.DayOfWeek, 0, 6}}
	out := make([]string, len(fields))
	for i, f := range fields {
		if len(f.rs) == 0 {
			// A described calendar has every field; an empty one matches
			// nothing (only creating a schedule fills in defaults).
			return "never (a calendar field is empty)"
		}
		out[i] = cronField(f.rs, f.lo, f.hi)
	}
	if out[0] == "0" && len(c.Year) == 0 {
		return strings.Join(out[1:], " ")
	}
	year := "*"
	if len(c.Year) > 0 {
		year = cronField(c.Year, -1, -1)
	}
	return strings.Join(append(out, year), " ")
}

// cronField writes ranges as one cron field: "*" for the whole of
// [lo, hi], otherwise "a", "a-b" or "a-b/step", comma-separated.
func cronField(rs []client.ScheduleRange, lo, hi int) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		end, step := max(r.End, r.Start), max(r.Step, 1)
		switch {
		case r.Start == lo && end == hi && step == 1:
			parts[i] = "*"
		case end == r.Start:
			parts[i] = strconv.Itoa(r.Start)
		case step == 1:
			parts[i] = fmt.Sprintf("%d-%d", r.Start, end)
		case r.Start == lo && end == hi:
			parts[i] = fmt.Sprintf("*/%d", step)
		default:
			parts[i] = fmt.Sprintf("%d-%d/%d", r.Start, end, step)
		}
	}
	return strings.Join(parts, ",")
}

package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/workflows"
)

// fakeSchedules is one schedule in memory, or none; Update applies
// DoUpdate to it as Temporal does.
type fakeSchedules struct {
	client.ScheduleClient
	client.ScheduleHandle
	current   *client.Schedule // nil: no schedule
	createErr error
	created   *client.ScheduleOptions
}

func (f *fakeSchedules) Create(_ context.Context, opts client.ScheduleOptions) (client.ScheduleHandle, error) {
	if f.createErr != nil {
		return nil, f.createErr
	}
	if f.current != nil {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	f.created = &opts
	f.current = &client.Schedule{State: &client.ScheduleState{Paused: opts.Paused, Note: opts.Note}}
	return f, nil
}

func (f *fakeSchedules) GetHandle(context.Context, string) client.ScheduleHandle { return f }

func (f *fakeSchedules) Update(_ context.Context, opts client.ScheduleUpdateOptions) error {
	if f.current == nil {
		return &serviceerror.NotFound{Message: "schedule not found"}
	}
	u, err := opts.DoUpdate(client.ScheduleUpdateInput{Description: client.ScheduleDescription{Schedule: *f.current}})
	if err != nil {
		return err
	}
	f.current = u.Schedule
	return nil
}

func TestPutPausedAndNote(t *testing.T) {
	spec := workflows.ScheduleSpec{
		ID: "nightly", Every: 24 * time.Hour, TaskQueue: "q",
		Training: workflows.TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue"}},
	}
	yes, no := true, false
	for _, tc := range []struct {
		name       string
		current    *client.ScheduleState // nil: no schedule yet
		paused     *bool
		note       string
		wantPaused bool
		wantNote   string
		created    bool
	}{
		{"new", nil, nil, "", false, "", true},
		{"new with a note", nil, nil, "weekly", false, "weekly", true},
		{"new, paused", nil, &yes, "data late", true, "paused by ana: data late", true},
		{"new, not paused", nil, &no, "", false, "", true},
		{"paused stays paused", &client.ScheduleState{Paused: true, Note: "broken feed"}, nil, "", true, "broken feed", false},
		{"a note replaces the note", &client.ScheduleState{Paused: true, Note: "broken feed"}, nil, "still broken", true, "still broken", false},
		{"pause", &client.ScheduleState{Note: "x"}, &yes, "", true, "paused by ana", false},
		{"resume", &client.ScheduleState{Paused: true, Note: "broken feed"}, &no, "fixed", false, "unpaused by ana: fixed", false},
		{"resume a running one", &client.ScheduleState{Note: "x"}, &no, "", false, "x", false},
		{"pause a paused one", &client.ScheduleState{Paused: true, Note: "x"}, &yes, "", true, "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSchedules{}
			if tc.current != nil {
				f.current = &client.Schedule{State: tc.current} // no Policy: Temporal may leave it out
			}
			s := spec
			s.Note = tc.note
			created, err := (&Manager{c: f}).Put(context.Background(), s, tc.paused, "ana")
			if err != nil {
				t.Fatal(err)
			}
			st := f.current.State
			if created != tc.created || st.Paused != tc.wantPaused || st.Note != tc.wantNote {
				t.Errorf("created %v, paused %v, note %q; want %v, %v, %q", created, st.Paused, st.Note, tc.created, tc.wantPaused, tc.wantNote)
			}
			if f.current.Spec == nil && !created {
				t.Error("the update left the spec out")
			}
		})
	}
}

func TestUpdateNeverCreates(t *testing.T) {
	spec := workflows.ScheduleSpec{
		ID: "nightly", Every: 24 * time.Hour, TaskQueue: "q",
		Training: workflows.TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue"}},
	}
	f := &fakeSchedules{}
	if err := (&Manager{c: f}).Update(context.Background(), spec, nil, "ana"); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing schedule: %v, want ErrNotFound", err)
	}
	if f.created != nil {
		t.Error("update created the schedule")
	}
	f.createErr = serviceerror.NewInvalidArgument("Invalid schedule spec: DayOfWeek is not in range [0-7]")
	spec.Cron, spec.Every = "0 3 * * funday", 0
	if _, err := (&Manager{c: f}).Put(context.Background(), spec, nil, "ana"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("put of a spec Temporal refuses: %v, want ErrInvalidSpec", err)
	}
	spec.Cron = ""
	if _, err := (&Manager{c: f}).Put(context.Background(), spec, nil, "ana"); err == nil {
		t.Error("put of an invalid spec (neither cron nor every) succeeded")
	}
}

// Mistakes found before Temporal is asked change nothing.
func TestRefusedBeforeTemporal(t *testing.T) {
	spec := workflows.ScheduleSpec{
		ID: "nightly", Every: 24 * time.Hour, TaskQueue: "q",
		Training: workflows.TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue"}},
	}
	f := &fakeSchedules{current: &client.Schedule{State: &client.ScheduleState{Paused: true, Note: "broken feed"}}}
	m := &Manager{c: f}
	ctx := context.Background()
	long := strings.Repeat("n", MaxNoteBytes+1)
	no := false
	spec.Note = long
	if _, err := m.Put(ctx, spec, nil, "ana"); !errors.Is(err, ErrNoteTooLong) {
		t.Errorf("put with a long note: %v", err)
	}
	// The note of a change of state says who, which makes it longer.
	spec.Note = strings.Repeat("n", MaxNoteBytes-5)
	if _, err := m.Put(ctx, spec, &no, "ana"); !errors.Is(err, ErrNoteTooLong) {
		t.Errorf("put resuming with a note that becomes too long: %v", err)
	}
	other := spec
	other.ID = "weekly"
	if _, err := (&Manager{c: &fakeSchedules{}}).Put(ctx, other, &yesPaused, "ana"); !errors.Is(err, ErrNoteTooLong) {
		t.Errorf("creating paused with a note that becomes too long: %v", err)
	}
	if err := m.Pause(ctx, "nightly", long); !errors.Is(err, ErrNoteTooLong) {
		t.Errorf("pause with a long note: %v", err)
	}
	if err := m.Unpause(ctx, "nightly", long); !errors.Is(err, ErrNoteTooLong) {
		t.Errorf("unpause with a long note: %v", err)
	}
	if st := f.current.State; !st.Paused || st.Note != "broken feed" || f.current.Spec != nil {
		t.Errorf("refused calls changed the schedule: %+v", f.current)
	}
	now := time.Now()
	if _, err := m.Backfill(ctx, "nightly", now.Add(-time.Hour), now.Add(time.Hour)); !errors.Is(err, ErrNotPast) {
		t.Errorf("backfill into the future: %v", err)
	}
	// Pausing a paused schedule keeps the note given, which fits.
	if _, err := m.Put(ctx, spec, &yesPaused, "ana"); err != nil {
		t.Fatalf("put of a note that fits: %v", err)
	}
	if st := f.current.State; !st.Paused || st.Note != spec.Note {
		t.Errorf("state %+v", st)
	}
}

var yesPaused = true

func (f *fakeSchedules) Describe(context.Context) (*client.ScheduleDescription, error) {
	if f.current == nil {
		return nil, &serviceerror.NotFound{Message: "schedule not found"}
	}
	return &client.ScheduleDescription{Schedule: *f.current, Info: client.ScheduleInfo{NextActionTimes: []time.Time{time.Unix(1e9, 0)}}}, nil
}

// A paused schedule lists no next runs, though Temporal computes them.
func TestDescribePausedHasNoNextRuns(t *testing.T) {
	for _, paused := range []bool{false, true} {
		f := &fakeSchedules{current: &client.Schedule{State: &client.ScheduleState{Paused: paused}, Spec: &client.ScheduleSpec{}}}
		s, err := (&Manager{c: f}).Describe(context.Background(), "nightly")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 1, true: 0}[paused]; len(s.NextRuns) != want || s.NextRuns == nil {
			t.Errorf("paused %v: next runs %v, want %d", paused, s.NextRuns, want)
		}
	}
}

package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/internal/registry"
)

// ScheduleSpec describes a retraining schedule: when TrainingPipeline runs
// and with which parameters. Exactly one of Cron and Every is set.
type ScheduleSpec struct {
	ID    string        `json:"id"`
	Cron  string        `json:"cron,omitempty"`  // standard 5-field cron, e.g. "0 3 * * 1", or @daily, @hourly…
	Every time.Duration `json:"every,omitempty"` // or a fixed interval
	// Jitter delays each run by a random amount up to Jitter, so many
	// schedules do not hit the cluster at the same instant.
	Jitter time.Duration `json:"jitter,omitempty"`
	// Overlap is skip (the default), buffer_one, buffer_all, cancel_other
	// or allow_all. terminate_other is refused: a terminated run runs no
	// more code, so it could not record its end in the registry.
	Overlap string `json:"overlap,omitempty"`
	// PauseOnFailure pauses the schedule when a run fails, so a broken data
	// feed does not produce a failure every period.
	PauseOnFailure bool           `json:"pause_on_failure"`
	Paused         bool           `json:"paused,omitempty"`
	Note           string         `json:"note,omitempty"`
	TaskQueue      string         `json:"task_queue"`
	Training       TrainingParams `json:"training"`
}

var overlapPolicies = map[string]enumspb.ScheduleOverlapPolicy{
	"":             enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	"skip":         enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	"buffer_one":   enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	"buffer_all":   enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	"cancel_other": enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	"allow_all":    enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// OverlapPolicy parses an overlap policy name.
func OverlapPolicy(name string) (enumspb.ScheduleOverlapPolicy, error) {
	p, ok := overlapPolicies[strings.ToLower(name)]
	if strings.EqualFold(name, "terminate_other") {
		return 0, fmt.Errorf("overlap policy %q: a terminated run cannot mark itself failed in the registry, where it would stay running; use cancel_other", name)
	}
	if !ok {
		return 0, fmt.Errorf("overlap policy %q: want skip, buffer_one, buffer_all, cancel_other or allow_all", name)
	}
	return p, nil
}

// cronMacros are the shorthands a cron expression may be.
var cronMacros = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true,
}

// OverlapName names an overlap policy as ScheduleSpec.Overlap does, the
// inverse of OverlapPolicy; Temporal's default, unspecified, is skip.
func OverlapName(p enumspb.ScheduleOverlapPolicy) string {
	if p == enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER {
		return "terminate_other" // refused now, but older schedules may have it
	}
	for name, q := range overlapPolicies {
		if q == p && name != "" {
			return name
		}
	}
	return "skip"
}

// Validate reports whether s describes a usable schedule.
func (s ScheduleSpec) Validate() error {
	if s.ID == "" {
		return fmt.Errorf("schedule: id is empty")
	}
	if err := registry.CheckName("schedule", s.ID); err != nil {
		return err
	}
	if (s.Cron == "") == (s.Every == 0) {
		return fmt.Errorf("schedule %s: give exactly one of cron and every", s.ID)
	}
	if s.Cron != "" && len(strings.Fields(s.Cron)) != 5 && !cronMacros[s.Cron] {
		// Temporal reads "@every 1s" too, which would dodge the checks of
		// Every; that is what Every is for.
		return fmt.Errorf("schedule %s: cron %q: want 5 fields (minute hour day-of-month month day-of-week) or one of @yearly, @monthly, @weekly, @daily and @hourly; for an interval use every", s.ID, s.Cron)
	}
	if cronNeverFires(s.Cron) {
		return fmt.Errorf("schedule %s: cron %q never fires: no month has that day of the month", s.ID, s.Cron)
	}
	if s.Every < 0 || (s.Every > 0 && s.Every < time.Minute) {
		return fmt.Errorf("schedule %s: every %s: want at least 1m", s.ID, s.Every)
	}
	if s.Jitter < 0 {
		return fmt.Errorf("schedule %s: negative jitter", s.ID)
	}
	if s.Every > 0 && s.Jitter >= s.Every {
		// Runs would drift past the next slot.
		return fmt.Errorf("schedule %s: jitter %s: want less than the interval, %s", s.ID, s.Jitter, s.Every)
	}
	if gap, ok := shortestCronGap(s.Cron); ok && s.Jitter >= gap {
		return fmt.Errorf("schedule %s: jitter %s: want less than the shortest time between two runs of cron %q, %s", s.ID, ShortDuration(s.Jitter), s.Cron, ShortDuration(gap))
	}
	if s.TaskQueue == "" {
		return fmt.Errorf("schedule %s: task queue is empty", s.ID)
	}
	if _, err := OverlapPolicy(s.Overlap); err != nil {
		return fmt.Errorf("schedule %s: %w", s.ID, err)
	}
	if err := s.Training.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("schedule %s: training: %w", s.ID, err)
	}
	if err := s.Training.Source.CheckColumns(); err != nil {
		return fmt.Errorf("schedule %s: training: %w", s.ID, err)
	}
	return nil
}

// Spec returns the Temporal calendar/interval spec of s.
func (s ScheduleSpec) Spec() client.ScheduleSpec {
	spec := client.ScheduleSpec{Jitter: s.Jitter}
	if s.Cron != "" {
		spec.CronExpressions = []string{s.Cron}
	} else {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: s.Every}}
	}
	return spec
}

// Action returns the workflow start the schedule takes. Temporal appends
// the scheduled time to the ID, so runs are named "retrain-<schedule id>-<time>"
// in the UI.
func (s ScheduleSpec) Action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:            "retrain-" + s.ID,
		Workflow:      TrainingPipeline,
		Args:          []any{s.Training},
		TaskQueue:     s.TaskQueue,
		StaticSummary: fmt.Sprintf("scheduled retraining of %s (%s)", s.Training.ModelName, s.ID),
		// Set from the start, so listings by model find runs still going.
		TypedSearchAttributes: temporal.NewSearchAttributes(attrModelName.ValueSet(s.Training.ModelName)),
	}
}

// Options returns the options that create the schedule.
func (s ScheduleSpec) Options() (client.ScheduleOptions, error) {
	if err := s.Validate(); err != nil {
		return client.ScheduleOptions{}, err
	}
	overlap, _ := OverlapPolicy(s.Overlap)
	return client.ScheduleOptions{
		ID:             s.ID,
		Spec:           s.Spec(),
		Action:         s.Action(),
		Overlap:        overlap,
		PauseOnFailure: s.PauseOnFailure,
		Paused:         s.Paused,
		Note:           s.Note,
	}, nil
}

// ShortDuration writes d as time.Duration does, without the zero minutes
// and seconds it ends with: 24h, not 24h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

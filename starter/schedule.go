package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

func newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Short: "manage retraining schedules on Temporal"}
	var spec workflows.ScheduleSpec
	var tf trainFlags
	apply := func(create bool) *cobra.Command {
		use, short := "update ID", "change the settings given of an existing schedule; the others stay as they are"
		if create {
			use, short = "create ID", "create a retraining schedule, or update it in place when it exists"
		}
		var c *cobra.Command
		c = &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			PreRunE: func(c *cobra.Command, args []string) error {
				if !create && c.Flags().NFlag() == 0 {
					return usagef("nothing to update: give the settings to change (schedule describe %s shows them)", args[0])
				}
				return nil
			},
			RunE: withApp(func(ctx context.Context, a *app, args []string) error {
				spec.ID = args[0]
				spec.TaskQueue = a.cfg.Temporal.TaskQueue
				if c.Flags().Changed("every") && spec.Every <= 0 {
					// Zero would read as "not given".
					return usagef("--every %s: want at least 1m", spec.Every)
				}
				p, err := tf.trainingParams(a.cfg)
				if err != nil {
					return err
				}
				p.Source = tf.source()
				// Temporal is reached only once the spec is known good,
				// except by update, which merges with the schedule first.
				var m *schedule.Manager
				manager := func() error {
					tc, err := a.temporalClient(ctx)
					if err == nil {
						m = schedule.New(tc, a.cfg.Temporal.Namespace)
					}
					return err
				}
				var cur schedule.Summary // what update merges with
				if !create {
					if err := manager(); err != nil {
						return err
					}
					cur, err = m.Describe(ctx, spec.ID)
					if errors.Is(err, schedule.ErrNotFound) {
						return fmt.Errorf("%w (use schedule create)", err)
					}
					if err != nil {
						return err
					}
					if spec, p, err = keepUnchanged(c.Flags(), cur, spec, p); err != nil {
						return err
					}
				}
				// As from the API: the runs take the defaults of the code
				// that runs them.
				spec.Training = p.WithoutDefaults()
				if err := spec.Validate(); err != nil { // the training too
					return asUsage(err)
				}
				if err := a.checkFeed(ctx, spec.Training.Source); err != nil {
					return err
				}
				if err := a.checkHeaders(ctx, spec.Training.Source, nil); err != nil {
					return err
				}
				var paused *bool
				if c.Flags().Changed("paused") {
					paused = &spec.Paused
				}
				if m == nil {
					if err := manager(); err != nil {
						return err
					}
				}
				created := false
				if create {
					created, err = m.Put(ctx, spec, paused, actor())
				} else {
					// Merged with cur: a change made since is not overwritten.
					switch err = m.UpdateIfUnchanged(ctx, spec, paused, actor(), cur); {
					case errors.Is(err, schedule.ErrNotFound):
						err = fmt.Errorf("%w (use schedule create)", err)
					case errors.Is(err, schedule.ErrChanged):
						err = fmt.Errorf("schedule %s changed while this update was merged with it (another update); nothing was written: run the update again", spec.ID)
					}
				}
				if err != nil {
					return scheduleUsage(err)
				}
				return a.printJSON(map[string]any{"id": spec.ID, "created": created})
			}),
		}
		fl := c.Flags()
		fl.StringVar(&spec.Cron, "cron", "", "cron expression, e.g. '0 3 * * 1'")
		fl.DurationVar(&spec.Every, "every", 0, "fixed interval, e.g. 24h")
		fl.DurationVar(&spec.Jitter, "jitter", 0, "random delay up to this much")
		fl.StringVar(&spec.Overlap, "overlap", "skip", "what to do when a run is still going: skip, buffer_one, buffer_all, cancel_other or allow_all")
		fl.BoolVar(&spec.PauseOnFailure, "pause-on-failure", true, "pause the schedule when a run fails")
		fl.BoolVar(&spec.Paused, "paused", false, "pause it (false resumes it); left out, an existing schedule stays as it is")
		fl.StringVar(&spec.Note, "note", "", "note shown with the schedule; with --paused, why")
		tf.addSourceFlags(fl)
		tf.addFeedFlag(fl)
		tf.addParamFlags(fl)
		tf.addGateFlags(fl)
		return c
	}
	var note string
	var from, to string
	simple := func(use, short string, fn func(ctx context.Context, m *schedule.Manager, id string) (any, error)) *cobra.Command {
		nargs := cobra.ExactArgs(1)
		if use == "list" {
			nargs = cobra.NoArgs
		}
		return &cobra.Command{Use: use, Short: short, Args: nargs,
			RunE: withApp(func(ctx context.Context, a *app, args []string) error {
				tc, err := a.temporalClient(ctx)
				if err != nil {
					return err
				}
				id := ""
				if len(args) > 0 {
					id = args[0]
				}
				out, err := fn(ctx, schedule.New(tc, a.cfg.Temporal.Namespace), id)
				if err != nil {
					return scheduleUsage(err)
				}
				return a.printJSON(out)
			})}
	}
	ok := map[string]bool{"ok": true}
	// The note says who, as the API's does.
	pause := simple("pause ID", "pause a schedule", func(ctx context.Context, m *schedule.Manager, id string) (any, error) {
		return ok, m.Pause(ctx, id, schedule.StateNote(true, actor(), note))
	})
	unpause := simple("unpause ID", "resume a schedule", func(ctx context.Context, m *schedule.Manager, id string) (any, error) {
		return ok, m.Unpause(ctx, id, schedule.StateNote(false, actor(), note))
	})
	for _, c := range []*cobra.Command{pause, unpause} {
		c.Flags().StringVar(&note, "note", "", "why")
	}
	var start, end time.Time
	backfill := simple("backfill ID", "take the runs a schedule would have taken between --from and --to (both included)", func(ctx context.Context, m *schedule.Manager, id string) (any, error) {
		times, err := m.Backfill(ctx, id, start, end)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "runs": times}, nil
	})
	// Checked before connecting to Temporal.
	backfill.PreRunE = func(*cobra.Command, []string) (err error) {
		if start, err = parseFlagTime("--from", from); err != nil {
			return err
		}
		if end, err = parseFlagTime("--to", to); err != nil {
			return err
		}
		if end.Before(start) {
			return usagef("--to %s is before --from %s", to, from)
		}
		return nil
	}
	backfill.Flags().StringVar(&from, "from", "", "start, RFC 3339 (2026-11-01T00:00:00Z)")
	backfill.Flags().StringVar(&to, "to", "", "end, RFC 3339 (2026-11-08T00:00:00Z)")
	_ = backfill.MarkFlagRequired("from")
	_ = backfill.MarkFlagRequired("to")
	cmd.AddCommand(apply(true), apply(false),
		simple("list", "list schedules", func(ctx context.Context, m *schedule.Manager, _ string) (any, error) { return m.List(ctx) }),
		simple("describe ID", "show a schedule's next and recent runs", func(ctx context.Context, m *schedule.Manager, id string) (any, error) { return m.Describe(ctx, id) }),
		pause, unpause,
		simple("trigger ID", "start a run now, under the schedule's overlap policy (with skip, right after a run still going; refused, exit 2, while another already waits)", func(ctx context.Context, m *schedule.Manager, id string) (any, error) {
			waitsFor, err := m.Trigger(ctx, id)
			if err != nil || waitsFor == "" {
				return ok, err
			}
			return map[string]any{"ok": true, "waits_for": waitsFor}, nil
		}),
		backfill,
		simple("delete ID", "delete a schedule", func(ctx context.Context, m *schedule.Manager, id string) (any, error) { return ok, m.Delete(ctx, id) }),
	)
	return cmd
}

// scheduleUsage returns err as a usageError when it is a mistake in the
// command line that only Temporal or the schedule's spec could tell (a cron
// expression Temporal cannot parse, a note too long), and as a
// refusedError for a backfill window with no run, too many or future ones,
// and a trigger Temporal would drop, which are no misuse of a flag.
func scheduleUsage(err error) error {
	for _, e := range []error{schedule.ErrInvalidSpec, schedule.ErrNoteTooLong} {
		if errors.Is(err, e) {
			return asUsage(err)
		}
	}
	for _, e := range []error{schedule.ErrNothingDue, schedule.ErrTooMany, schedule.ErrNotPast, schedule.ErrAlreadyWaiting} {
		if errors.Is(err, e) {
			return refusedError{err}
		}
	}
	return err
}

// actor names the person acting from the command line, in alias moves and
// schedule notes.
func actor() string {
	if u, ok := lookupUser(); ok {
		return "cli:" + u
	}
	return "cli"
}

// parseFlagTime reads the RFC 3339 time v of flag name; a mistake is a
// usage error that shows the form.
func parseFlagTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usagef("%s %q: want an RFC 3339 time such as 2026-11-01T03:00:00Z", name, v)
	}
	return t, nil
}

// inputFlags are the flags naming the input a schedule trains on; any of
// them replaces the input, and a CSV's columns go with a CSV.
var inputFlags = []string{"feed", "x-key", "y-key", "csv-key"}

// keepUnchanged returns the spec and training parameters that schedule
// update writes: those of cur, the schedule as it is, with the settings
// given on the command line (fl) taken from spec and p, which the flags
// filled in. So an update changes what it is told to and nothing else, the
// model trained on included; create and the API's PUT replace the whole
// spec.
func keepUnchanged(fl *pflag.FlagSet, cur schedule.Summary, spec workflows.ScheduleSpec, p workflows.TrainingParams) (workflows.ScheduleSpec, workflows.TrainingParams, error) {
	given := fl.Changed
	if cur.Training == nil {
		return spec, p, fmt.Errorf("schedule %s does not start trainings; delete it and create it again", cur.ID)
	}
	if !given("cron") && !given("every") {
		if cur.Cron == "" && cur.Every == "" {
			return spec, p, usagef("schedule %s runs on a spec update cannot keep (%s): give --cron or --every", cur.ID, cur.Spec)
		}
		spec.Cron = cur.Cron
		if cur.Every != "" {
			every, err := time.ParseDuration(cur.Every)
			if err != nil {
				return spec, p, fmt.Errorf("schedule %s: interval %q: %w", cur.ID, cur.Every, err)
			}
			spec.Every = every
		}
	}
	if !given("jitter") && cur.Jitter != "" {
		jitter, err := time.ParseDuration(cur.Jitter)
		if err != nil {
			return spec, p, fmt.Errorf("schedule %s: jitter %q: %w", cur.ID, cur.Jitter, err)
		}
		spec.Jitter = jitter
	}
	if !given("overlap") {
		spec.Overlap = cur.Overlap
	}
	if !given("pause-on-failure") && cur.PauseOnFailure != nil {
		spec.PauseOnFailure = *cur.PauseOnFailure
	}

	t := cur.Training.WithDefaults()
	src := t.Source
	if slices.ContainsFunc(inputFlags, given) {
		src.Feed, src.XKey, src.YKey, src.CSVKey = p.Source.Feed, p.Source.XKey, p.Source.YKey, p.Source.CSVKey
		if src.CSVKey == "" {
			src.TextCols, src.LabelCol = nil, ""
		}
	}
	if given("text-col") {
		src.TextCols = p.Source.TextCols
	}
	if given("label-col") {
		src.LabelCol = p.Source.LabelCol
	}
	t.Source = src
	if given("model") {
		t.ModelName = p.ModelName
	}
	switch {
	case given("params"):
		t.Params = p.Params // --c applied to the file's
	case given("c"):
		cp := *t.Params
		cp.Solver.C = p.Params.Solver.C
		t.Params = &cp
	}
	if given("holdout") {
		t.HoldoutFraction = p.HoldoutFraction
	}
	if given("max-reject-fraction") {
		t.MaxRejectFraction = p.MaxRejectFraction
	}
	if given("floor") {
		t.Gate.Floor = p.Gate.Floor
	}
	if given("margin") {
		t.Gate.Margin = p.Gate.Margin
	}
	t.GateSet = true
	t.TrainingQueue = p.TrainingQueue // this deployment's
	return spec, t, nil
}

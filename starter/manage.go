package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/schedule"
	"github.com/prodcat/prodcat/workflows"
)

func newUploadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "upload FILE...",
		Short: "put local files in the bucket under their content address and print the keys",
		Args:  cobra.MinimumNArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			for _, path := range args {
				ref, err := a.uploadFile(ctx, path)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s\t%s\n", ref.Key, path)
			}
			return nil
		}),
	}
}

func newPredictBatchCmd() *cobra.Command {
	var x, xKey, csvPath, csvKey, model, alias, out string
	var textCols []string
	cmd := &cobra.Command{
		Use:   "predict-batch",
		Short: "run a registered model over an unlabelled X file or generic CSV, write the predictions CSV to the bucket and, with --out, here",
		Args:  cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			given := 0
			for _, s := range []string{x, xKey, csvPath, csvKey} {
				if s != "" {
					given++
				}
			}
			if given != 1 {
				return usagef("give exactly one of --x, --x-key, --csv and --csv-key")
			}
			cols := columns(textCols)
			if model == "" {
				model = a.cfg.ModelName
			}
			csv := csvPath != "" || csvKey != ""
			if csv && len(cols) == 0 {
				var err error
				if cols, err = a.modelColumns(ctx, model, alias, nil); err != nil {
					return err
				}
			}
			if out != "" {
				// Found out now, not after a run of hours.
				if err := checkWritable(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			// A file without the columns the model reads is refused now,
			// before it is uploaded and a run fails on it.
			src := activities.Source{XKey: cmp.Or(xKey, x), CSVKey: cmp.Or(csvKey, csvPath), TextCols: cols}
			if err := a.checkHeaders(ctx, src, map[string]bool{x: x != "", csvPath: csvPath != ""}); err != nil {
				return err
			}
			if csv && len(textCols) > 0 {
				// A check, not a need: a registry that cannot be read
				// does not stop a batch the worker can run.
				var usage usageError
				if _, err := a.modelColumns(ctx, model, alias, cols); errors.As(err, &usage) {
					return err
				} else if err != nil {
					a.log.WithError(err).Warn("cannot read the model's columns to check --text-col against them")
				}
			}
			for _, up := range []struct{ path, key *string }{{&x, &xKey}, {&csvPath, &csvKey}} {
				if *up.path == "" {
					continue
				}
				ref, err := a.uploadFile(ctx, *up.path)
				if err != nil {
					return err
				}
				*up.key = ref.Key
			}
			in := activities.BatchPredictInput{ModelName: model, Alias: alias, XKey: xKey}
			if csvKey != "" {
				in = activities.BatchPredictInput{ModelName: model, Alias: alias, CSVKey: csvKey, TextCols: cols}
			}
			c, err := a.temporalClient(ctx)
			if err != nil {
				return err
			}
			run, err := workflows.StartBatchPredict(ctx, c, a.cfg.Temporal.TaskQueue, in)
			if err != nil {
				return err
			}
			id := run.GetID()
			wctx, stopWorkers := context.WithCancel(ctx)
			defer stopWorkers()
			go a.watchWorkers(wctx, c, workerCheckInterval, a.runQueues()[0])
			var res activities.BatchPredictResult
			if err := run.Get(ctx, &res); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("stopped watching %s; the batch prediction goes on (see the Temporal UI)", id)
				}
				var app *temporal.ApplicationError
				if errors.As(err, &app) {
					return fmt.Errorf("batch prediction %s failed (%s): %s", id, app.Type(), app.Message())
				}
				return fmt.Errorf("batch prediction %s failed: %w", id, err)
			}
			if out != "" {
				store, err := a.artifacts(ctx)
				if err != nil {
					return err
				}
				data, err := store.Get(ctx, res.PredictionsKey)
				if err != nil {
					return fmt.Errorf("the predictions are in the bucket as %s, but fetching them failed: %w", res.PredictionsKey, err)
				}
				if err := writeFile(out, data); err != nil {
					return fmt.Errorf("the predictions are in the bucket as %s, but writing %s failed: %w", res.PredictionsKey, out, err)
				}
			}
			return a.printJSON(res)
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "also write the predictions CSV to this local file")
	cmd.Flags().StringVar(&x, "x", "", "local X file (uploaded first)")
	cmd.Flags().StringVar(&xKey, "x-key", "", "bucket key of an X file")
	cmd.Flags().StringVar(&csvPath, "csv", "", "local generic CSV (uploaded first)")
	cmd.Flags().StringVar(&csvKey, "csv-key", "", "bucket key of a generic CSV")
	cmd.Flags().StringSliceVar(&textCols, "text-col", nil, "text column(s) of the generic CSV the model reads, repeated or comma-separated; the title first")
	cmd.Flags().StringVar(&model, "model", "", "registered model (default $PRODCAT_MODEL_NAME)")
	cmd.Flags().StringVar(&alias, "alias", "production", "alias of the version to use")
	return cmd
}

func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "list, show, promote and roll back registered model versions"}
	var model string
	cmd.PersistentFlags().StringVar(&model, "model", "", "registered model (default $PRODCAT_MODEL_NAME)")
	name := func(a *app) string {
		if model != "" {
			return model
		}
		return a.cfg.ModelName
	}
	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "list the versions of a model with their metrics and aliases", Args: cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			vs, err := r.Versions(ctx, name(a))
			if err != nil {
				return err
			}
			if listJSON {
				if vs == nil {
					vs = []registry.Version{}
				}
				return a.printJSON(vs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tWEIGHTED F1\tALIASES\tDATASET\tCREATED")
			for _, v := range vs { // v.Aliases are sorted
				fmt.Fprintf(tw, "%d\t%.4f\t%v\t%.12s\t%s\n", v.Version, v.Metrics["weighted_f1"], v.Aliases, v.DatasetDigest, v.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print the versions as a JSON array, with their lineage")
	show := &cobra.Command{
		Use: "show VERSION", Short: "show a version with its lineage and metrics", Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			v, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			mv, err := r.Version(ctx, name(a), v)
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	var reason, alias string
	var expect int
	promote := &cobra.Command{
		Use: "promote VERSION", Short: "point an alias (production by default) at a version, recording why", Args: cobra.ExactArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			v, err := parseVersion(args[0])
			if err != nil {
				return err
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			if err := a.checkModelFile(ctx, r, name(a), v); err != nil {
				return err
			}
			var mv registry.AliasMove
			if expect >= 0 {
				mv, err = r.CompareAndSetAlias(ctx, name(a), alias, expect, v, reason, actor())
			} else {
				mv, err = r.SetAlias(ctx, name(a), alias, v, reason, actor())
			}
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	rollback := &cobra.Command{
		Use: "rollback", Short: "move an alias (production by default) back to the version it pointed at before", Args: cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error {
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			if to := rollbackTarget(ctx, r, name(a), alias); to > 0 {
				if err := a.checkModelFile(ctx, r, name(a), to); err != nil {
					return err
				}
			}
			var mv registry.AliasMove
			if expect >= 0 {
				mv, err = r.RollbackFrom(ctx, name(a), alias, expect, reason, actor())
			} else {
				mv, err = r.Rollback(ctx, name(a), alias, reason, actor())
			}
			if err != nil {
				return err
			}
			return a.printJSON(mv)
		}),
	}
	for _, c := range []*cobra.Command{promote, rollback} {
		c.Flags().StringVar(&reason, "reason", "", "why the alias moves (recorded in the history)")
		c.Flags().StringVar(&alias, "alias", "production", "alias to move")
		_ = c.MarkFlagRequired("reason")
	}
	promote.Flags().IntVar(&expect, "expect", -1, "move only if the alias points at this version now (0: only if it is not set), so a move made meanwhile is not overwritten; unconditional when not given")
	rollback.Flags().IntVar(&expect, "expect", -1, "undo only if the alias points at this version now, so two people rolling back the same version undo it once; unconditional when not given")
	checkAlias := func(*cobra.Command, []string) error {
		if err := registry.CheckName("alias", alias); err != nil {
			return usagef("--alias: %w", err)
		}
		return nil
	}
	promote.PreRunE = checkAlias
	rollback.PreRunE = func(cmd *cobra.Command, args []string) error {
		if expect == 0 {
			return usagef("--expect 0: an alias that is not set has nothing to roll back; give the version it points at now")
		}
		return checkAlias(cmd, args)
	}
	cmd.AddCommand(list, show, promote, rollback)
	return cmd
}

func newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Short: "manage retraining schedules on Temporal"}
	var spec workflows.ScheduleSpec
	var tf trainFlags
	apply := func(create bool) *cobra.Command {
		use, short := "update ID", "replace the spec of an existing schedule (give every setting, as for create)"
		if create {
			use, short = "create ID", "create a retraining schedule, or update it in place when it exists"
		}
		var c *cobra.Command
		c = &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
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
				tc, err := a.temporalClient(ctx)
				if err != nil {
					return err
				}
				var paused *bool
				if c.Flags().Changed("paused") {
					paused = &spec.Paused
				}
				m := schedule.New(tc, a.cfg.Temporal.Namespace)
				created := false
				if create {
					created, err = m.Put(ctx, spec, paused, actor())
				} else if err = m.Update(ctx, spec, paused, actor()); errors.Is(err, schedule.ErrNotFound) {
					err = fmt.Errorf("%w (use schedule create)", err)
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
		simple("trigger ID", "start a run now, under the schedule's overlap policy (with skip, right after a run still going)", func(ctx context.Context, m *schedule.Manager, id string) (any, error) { return ok, m.Trigger(ctx, id) }),
		backfill,
		simple("delete ID", "delete a schedule", func(ctx context.Context, m *schedule.Manager, id string) (any, error) { return ok, m.Delete(ctx, id) }),
	)
	return cmd
}

// parseVersion parses a model version number argument.
func parseVersion(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, usagef("version %q: want a positive number", s)
	}
	return v, nil
}

// scheduleUsage returns err as a usageError when it is a mistake in the
// command line that only Temporal or the schedule's spec could tell: a cron
// expression Temporal cannot parse, a note too long, a backfill window with
// no run, too many or future ones.
func scheduleUsage(err error) error {
	for _, e := range []error{schedule.ErrInvalidSpec, schedule.ErrNoteTooLong, schedule.ErrNothingDue, schedule.ErrTooMany, schedule.ErrNotPast} {
		if errors.Is(err, e) {
			return asUsage(err)
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

// modelColumns returns the text columns a batch prediction of a generic CSV
// reads with the version alias of model points at: cols when given, else
// the ones it was trained on, which its signature records. Its label
// column is refused: the predictions would read the answers.
func (a *app) modelColumns(ctx context.Context, model, alias string, cols []string) ([]string, error) {
	r, err := a.models(ctx)
	if err != nil {
		return nil, err
	}
	v, err := r.Alias(ctx, model, alias)
	if err != nil {
		return nil, err
	}
	var sig activities.CSVSignature
	_ = json.Unmarshal(v.Signature, &sig) // a version of the challenge's files has none of these fields
	if len(cols) == 0 {
		if len(sig.TextCols) == 0 {
			return nil, usagef("a generic CSV needs --text-col, the columns the model reads, the title first (version %d of %s does not record them)", v.Version, model)
		}
		a.log.WithFields(map[string]any{"text_cols": strings.Join(sig.TextCols, ","), "version": v.Version}).Info("reading the columns the model was trained on")
		return sig.TextCols, nil
	}
	if sig.LabelCol != "" && slices.Contains(cols, sig.LabelCol) {
		return nil, usagef("--text-col %s: that is the column version %d of %s predicts; it reads %s", sig.LabelCol, v.Version, model, strings.Join(sig.TextCols, ","))
	}
	return cols, nil
}

// checkModelFile refuses to point an alias at version v of model when its
// model file is gone from the bucket: the API would go on serving the old
// version while the registry named the new one.
func (a *app) checkModelFile(ctx context.Context, r *registry.Registry, model string, v int) error {
	ver, err := r.Version(ctx, model, v)
	if err != nil {
		return err
	}
	s, err := a.artifacts(ctx)
	if err != nil {
		return err
	}
	if ok, err := s.Exists(ctx, ver.ArtifactKey); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("version %d of %s has no model file: %s is not in bucket %s", v, model, ver.ArtifactKey, s.Bucket())
	}
	return nil
}

// rollbackTarget returns the version a rollback of alias would move it to,
// or 0 when that is not known (the registry then refuses the rollback).
func rollbackTarget(ctx context.Context, r *registry.Registry, model, alias string) int {
	hist, err := r.AliasHistory(ctx, model)
	if err != nil {
		return 0
	}
	for _, mv := range hist { // newest first
		if mv.Alias == alias {
			return mv.From
		}
	}
	return 0
}

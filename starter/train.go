package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/workflows"
)

type trainFlags struct {
	x, y, csv            string // local files, uploaded first
	xKey, yKey, csvKey   string // objects already in the bucket
	feed                 string // or a data feed
	textCols             []string
	labelCol             string
	model, id, params    string
	c                    optionalFloat
	holdout, floor, marg float64
	maxReject            float64
	wait, json           bool
}

func newTrainCmd() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "start a TrainingPipeline run on Temporal (and watch it with --wait)",
		Example: `  starter train --x X_train.csv --y Y_train.csv --wait
  starter train --csv products.csv --text-col title,description --label-col category --wait
  starter train --x-key raw/<sha256>.csv --y-key raw/<sha256>.csv
  starter train --feed catalogue --wait`,
		Args: cobra.NoArgs,
		RunE: withApp(func(ctx context.Context, a *app, _ []string) error { return a.train(ctx, f) }),
	}
	fl := cmd.Flags()
	f.addFileFlags(fl)
	f.addSourceFlags(fl)
	f.addFeedFlag(fl)
	fl.StringVar(&f.id, "id", "", "workflow ID (default train-<model>-<UTC time>)")
	f.addParamFlags(fl)
	f.addGateFlags(fl)
	fl.BoolVar(&f.wait, "wait", false, "wait for the run, showing its progress, and print the result")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	return cmd
}

// addParamFlags adds the flags of the model name, the classifier and the
// handling of the data, shared by train and schedule create/update;
// trainingParams reads them.
func (f *trainFlags) addParamFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.model, "model", "", "registered model name (default $PRODCAT_MODEL_NAME)")
	fl.StringVar(&f.params, "params", "", "JSON file with classifier parameters (default: the built-in defaults)")
	fl.Var(&f.c, "c", "override the solver's regularisation parameter C")
	fl.Float64Var(&f.holdout, "holdout", workflows.DefaultHoldoutFraction, "share of the rows held out to evaluate the model, in (0, 1)")
	fl.Float64Var(&f.maxReject, "max-reject-fraction", workflows.DefaultMaxRejectFraction, "fail when a file has more rejected rows (malformed, no text, no or unknown label) than this share; 1 accepts any")
}

// trainingParams returns the parameters of a run as the flags give them,
// without its source. A value out of range is a usageError; a --params
// file that cannot be read or parsed is a plain failure.
func (f *trainFlags) trainingParams(cfg config.Config) (workflows.TrainingParams, error) {
	if !(f.holdout > 0 && f.holdout < 1) {
		// 0 would read as "unset" further on and become the default.
		return workflows.TrainingParams{}, usagef("--holdout %v: want a share of the rows in (0, 1)", f.holdout)
	}
	if !(f.maxReject > 0 && f.maxReject <= 1) {
		return workflows.TrainingParams{}, usagef("--max-reject-fraction %v: want a share in (0, 1]", f.maxReject)
	}
	p := workflows.TrainingParams{
		ModelName: cmp.Or(f.model, cfg.ModelName), HoldoutFraction: f.holdout, MaxRejectFraction: f.maxReject,
		TrainingQueue: cfg.Temporal.TrainingQueue, Gate: f.gate(), GateSet: true,
	}
	if f.c.set && !(f.c.v > 0 && !math.IsInf(f.c.v, 0)) {
		return workflows.TrainingParams{}, usagef("--c %v: want a positive number", f.c.v)
	}
	if f.params != "" || f.c.set {
		cp := classifier.DefaultParams()
		if f.params != "" {
			var err error
			if cp, err = readParams(f.params); err != nil {
				return workflows.TrainingParams{}, err
			}
		}
		if f.c.set {
			cp.Solver.C = f.c.v
		}
		p.Params = &cp
	}
	return p, nil
}

// addGateFlags adds the promotion gate's flags, shared by train and
// schedule create/update; gate returns what they set.
func (f *trainFlags) addGateFlags(fl *pflag.FlagSet) {
	fl.Float64Var(&f.floor, "floor", workflows.DefaultPromotionFloor, "weighted F1 every model must reach")
	fl.Float64Var(&f.marg, "margin", workflows.DefaultPromotionMargin, "weighted F1 gain needed to replace production (0: any gain)")
}

func (f *trainFlags) gate() activities.Gate { return activities.Gate{Margin: f.marg, Floor: f.floor} }

// addSourceFlags adds the flags naming the input objects in the bucket,
// shared by train, schedule create/update and feed publish.
func (f *trainFlags) addSourceFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.xKey, "x-key", "", "bucket key of a raw X file")
	fl.StringVar(&f.yKey, "y-key", "", "bucket key of a raw Y file")
	fl.StringVar(&f.csvKey, "csv-key", "", "bucket key of a generic CSV")
	fl.StringSliceVar(&f.textCols, "text-col", nil, "text column(s) of a generic CSV (repeat or comma-separate)")
	fl.StringVar(&f.labelCol, "label-col", "", "label column of a generic CSV")
}

// addFeedFlag adds --feed, shared by train and schedule create/update.
func (f *trainFlags) addFeedFlag(fl *pflag.FlagSet) {
	fl.StringVar(&f.feed, "feed", "", "data feed to train on: its latest version when the run starts (see starter feed)")
}

// source returns the input named by the flags.
func (f *trainFlags) source() activities.Source {
	return activities.Source{Feed: f.feed, XKey: f.xKey, YKey: f.yKey, CSVKey: f.csvKey, TextCols: f.textCols, LabelCol: f.labelCol}
}

// addFileFlags adds the flags naming local input files, shared by train and
// feed publish.
func (f *trainFlags) addFileFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.x, "x", "", "local X file in the challenge's raw format (uploaded first)")
	fl.StringVar(&f.y, "y", "", "local Y file in the challenge's raw format (uploaded first)")
	fl.StringVar(&f.csv, "csv", "", "local generic CSV (uploaded first)")
}

// uploadSource uploads the local files the flags name and returns the
// input with their keys in place of the paths. The input, and whatever
// check adds (nil for nothing), are checked first, with the paths standing
// in for the keys, so wrong flags upload nothing.
func (a *app) uploadSource(ctx context.Context, f trainFlags, check func(activities.Source) error) (activities.Source, error) {
	src := f.source()
	uploads := []struct {
		path string
		key  *string
	}{{f.x, &src.XKey}, {f.y, &src.YKey}, {f.csv, &src.CSVKey}}
	for _, up := range uploads {
		if up.path == "" {
			continue
		}
		if *up.key != "" {
			return activities.Source{}, usagef("give a local file or a bucket key for the same input, not both (%s and %s)", up.path, *up.key)
		}
		*up.key = up.path // stands in for the key until the upload
	}
	if src.XKey == "" && src.YKey == "" && src.CSVKey == "" && src.Feed == "" {
		return activities.Source{}, usagef("no input: give --x and --y (the challenge's files) or --csv with --text-col and --label-col, or the bucket keys --x-key and --y-key or --csv-key (train also takes --feed NAME)")
	}
	if src.Feed == "" && src.CSVKey == "" && (src.XKey == "") != (src.YKey == "") {
		return activities.Source{}, usagef("the challenge's files come in pairs: give both --x (or --x-key) and --y (or --y-key)")
	}
	if f.x != "" && f.y != "" && sameFile(f.x, f.y) {
		return activities.Source{}, usagef("--x and --y name the same file, %s", f.x)
	}
	// The first mistake only: a source named two ways has no columns to
	// check.
	if err := cmp.Or(src.Validate(), src.CheckColumns()); err != nil {
		return activities.Source{}, asUsage(err)
	}
	// Keys given as keys are checked before anything is uploaded.
	if err := f.source().CheckKeys(); err != nil {
		return activities.Source{}, asUsage(err)
	}
	if check != nil {
		if err := check(src); err != nil {
			return activities.Source{}, asUsage(err)
		}
	}
	if err := a.checkHeaders(ctx, src, map[string]bool{f.x: true, f.y: true, f.csv: true}); err != nil {
		return activities.Source{}, err
	}
	for _, up := range uploads {
		if up.path == "" {
			continue
		}
		ref, err := a.uploadFile(ctx, up.path)
		if err != nil {
			return activities.Source{}, err
		}
		*up.key = ref.Key
	}
	if src.XKey != "" && src.XKey == src.YKey {
		return activities.Source{}, usagef("--x %s and --y %s have the same content (%s): one file given twice?", cmp.Or(f.x, f.xKey), cmp.Or(f.y, f.yKey), src.XKey)
	}
	return src, nil
}

// optionalFloat is a float flag that knows whether it was given, so that
// an explicit 0 is refused rather than taken for "not given".
type optionalFloat struct {
	v   float64
	set bool
}

func (o *optionalFloat) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number")
	}
	o.v, o.set = v, true
	return nil
}

func (o *optionalFloat) Type() string { return "float" }

// sameFile reports whether paths a and b name the same file.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// checkHeaders checks that the files src names are there and have the
// columns a run reads, so a wrong one is refused now and not by every run.
// The keys in local are paths of files not uploaded yet.
func (a *app) checkHeaders(ctx context.Context, src activities.Source, local map[string]bool) error {
	return a.checkHeadersOr(ctx, src, local, "upload it first (starter upload)")
}

// checkHeadersOr is checkHeaders, with fix as the advice for an object
// not in the bucket.
func (a *app) checkHeadersOr(ctx context.Context, src activities.Source, local map[string]bool, fix string) error {
	return src.CheckHeaders(func(key string) ([]byte, error) {
		if local[key] {
			return readHead(key)
		}
		s, err := a.artifacts(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.Head(ctx, key, dataset.HeaderBytes)
		if errors.Is(err, artifact.ErrNotFound) {
			return nil, fmt.Errorf("%s is not in bucket %s; %s: %w", key, s.Bucket(), fix, artifact.ErrNotFound)
		}
		return b, err
	})
}

// readHead returns the first dataset.HeaderBytes of the file at path.
func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, dataset.HeaderBytes)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b[:n], nil
}

// checkFeed fails when src names a feed that was never published, or
// whose latest version names an object no longer in the bucket, which
// every run on it would fail on.
func (a *app) checkFeed(ctx context.Context, src activities.Source) error {
	if src.Feed == "" {
		return nil
	}
	r, err := a.models(ctx)
	if err != nil {
		return err
	}
	v, err := r.Feed(ctx, src.Feed)
	if errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("feed %s was never published; publish it first: starter feed publish %s --x X.csv --y Y.csv", src.Feed, src.Feed)
	} else if err != nil {
		return err
	}
	var objects activities.Source
	if json.Unmarshal(v.Source, &objects) != nil || objects.Feed != "" {
		return nil // the run fails on it, saying why
	}
	switch err := a.checkHeadersOr(ctx, objects, nil, "publish a new version of the feed"); {
	case errors.Is(err, dataset.ErrBadData) && !errors.Is(err, artifact.ErrNotFound):
		return fmt.Errorf("feed %s version %d: %w; publish a new version of the feed", src.Feed, v.Version, err)
	case err != nil:
		return fmt.Errorf("feed %s version %d: %w", src.Feed, v.Version, err)
	}
	return nil
}

func (a *app) train(ctx context.Context, f trainFlags) error {
	if f.id != "" {
		// As POST /v1/trainings: Temporal takes IDs awkward in URLs, and
		// refuses some (not ASCII) only with a transport error.
		if err := workflows.CheckWorkflowID(f.id); err != nil {
			return usagef("--id %q: %w", f.id, err)
		}
	}
	p, err := f.trainingParams(a.cfg)
	if err != nil {
		return err
	}
	validate := func(src activities.Source) error {
		q := p
		q.Source = src
		if err := q.WithDefaults().Validate(); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		return nil
	}
	src, err := a.uploadSource(ctx, f, validate)
	if err != nil {
		return err
	}
	p.Source = src
	if err := a.checkFeed(ctx, src); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	c, err := a.temporalClient(ctx)
	if err != nil {
		return err
	}
	run, err := workflows.StartTraining(ctx, c, a.cfg.Temporal.TaskQueue, f.id, p)
	if err != nil {
		return err
	}
	a.log.WithFields(map[string]any{"workflow_id": run.GetID(), "run_id": run.GetRunID()}).Info("training started")
	fmt.Fprintf(a.stderr, "Temporal UI: %s\n", workflows.UILink(a.cfg.Temporal.UIURL, a.cfg.Temporal.Namespace, run.GetID(), run.GetRunID()))
	if !f.wait {
		return a.printJSON(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
	}
	var res workflows.TrainingResult
	if err := a.watch(ctx, c, run, trainingKind, a.runQueues(), &res); err != nil {
		return a.ended(err, f.json)
	}
	return a.showResult(res, f.json)
}

// showResult prints a training's result: as JSON with asJSON, else as a
// summary.
func (a *app) showResult(res workflows.TrainingResult, asJSON bool) error {
	if asJSON {
		return a.printJSON(res)
	}
	printResult(a, res)
	return nil
}

func printResult(a *app, r workflows.TrainingResult) {
	w := a.stdout
	if r.Alias == "" {
		fmt.Fprintf(w, "model       %s version %d, unchanged\n", r.ModelName, r.Version)
	} else {
		fmt.Fprintf(w, "model       %s version %d → %s\n", r.ModelName, r.Version, r.Alias)
	}
	fmt.Fprintf(w, "gate        %s\n", r.Reason)
	fmt.Fprintf(w, "weighted F1 %.4f   macro F1 %.4f   accuracy %.4f (holdout of %d rows)\n",
		r.Evaluation.WeightedF1, r.Evaluation.MacroF1, r.Evaluation.Accuracy, r.Dataset.HoldoutRows)
	fmt.Fprintf(w, "probability log-loss %.4f   expected calibration error %.4f\n", r.Evaluation.LogLoss, r.Evaluation.ECE)
	fmt.Fprintf(w, "dataset     %s (%d rows, %d classes, %d rejected)\n", r.DatasetDigest, r.Dataset.Rows, r.Dataset.Classes, r.Dataset.Rejected)
	if r.Dataset.RejectsKey != "" {
		fmt.Fprintf(w, "rejects     %s (rows left out or repaired, and why)\n", r.Dataset.RejectsKey)
	}
	if r.Dataset.FeedVersion > 0 {
		fmt.Fprintf(w, "feed        %s version %d\n", r.Dataset.Feed, r.Dataset.FeedVersion)
	}
	if src := r.Dataset.Source; src.CSVKey != "" {
		fmt.Fprintf(w, "input       %s\n", src.CSVKey)
	} else if src.XKey != "" {
		fmt.Fprintf(w, "input       %s %s\n", src.XKey, src.YKey)
	}
	fmt.Fprintf(w, "model file  %s\n", r.ModelKey)
	fmt.Fprintf(w, "report      %s\n", r.Evaluation.ReportKey)
	var parts []string
	total := 0.0
	for _, s := range r.Stages {
		parts = append(parts, fmt.Sprintf("%s %.2fs", s.Stage, s.Seconds))
		total += s.Seconds
	}
	fmt.Fprintf(w, "stages      %s (sum %.2fs)\n", strings.Join(parts, ", "), total)
}

// readParams reads classifier parameters from a JSON file over the
// defaults. Unknown keys and trailing data are errors: either would
// otherwise train with defaults the user did not mean.
func readParams(path string) (classifier.Params, error) {
	p := classifier.DefaultParams()
	data, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := decodeStrict(data, &p); err != nil {
		return p, fmt.Errorf("--params %s: %w (want classifier parameters such as {\"solver\":{\"c\":2}})", path, err)
	}
	return p, nil
}

// decodeStrict decodes one JSON value from data into v, refusing unknown
// keys and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	return err
}

func newCancelCmd() *cobra.Command {
	var runID string
	cmd := &cobra.Command{
		Use:   "cancel WORKFLOW_ID",
		Short: "ask a running training, batch prediction or comparison to stop: the stage under way stops first, then the run is marked canceled",
		Long: `cancel asks a running workflow to stop. Unlike terminating it in the Temporal UI,
which runs no more code, the pipeline lets the stage under way stop, keeps a model it
already published, and marks its registry run canceled.`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error { return checkRunIDFlag(runID) },
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			id := args[0]
			c, info, err := a.describeWorkflow(ctx, "cancel", id, runID, "a training, a batch prediction or a comparison",
				workflows.TrainingWorkflowType, workflows.BatchWorkflowType, workflows.CompareWorkflowType)
			if err != nil {
				return err
			}
			if st := info.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return fmt.Errorf("cancel: workflow %s has ended (%s); there is nothing to cancel", id, workflows.StatusName(st))
			}
			run := info.GetExecution().GetRunId()
			if err := c.CancelWorkflow(ctx, id, run); err != nil {
				return fmt.Errorf("cancel %s: %w", id, err)
			}
			a.log.WithFields(map[string]any{"workflow_id": id, "run_id": run, "workflow": info.GetType().GetName()}).Info("cancel requested")
			return a.printJSON(map[string]string{"workflow_id": id, "run_id": run, "action": "cancel_requested"})
		}),
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "which run of the workflow ID (default the latest)")
	return cmd
}

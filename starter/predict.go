package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/workflows"
)

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
			run, err := workflows.StartBatchPredict(ctx, c, a.cfg.Temporal.TaskQueue, "", in)
			if err != nil {
				return err
			}
			id := run.GetID()
			a.log.WithFields(map[string]any{"workflow_id": id, "run_id": run.GetRunID()}).Info("batch prediction started")
			fmt.Fprintf(a.stderr, "Temporal UI: %s\n", workflows.UILink(a.cfg.Temporal.UIURL, a.cfg.Temporal.Namespace, id, run.GetRunID()))
			var res activities.BatchPredictResult
			if err := a.watch(ctx, c, run, batchKind, a.runQueues()[:1], &res); err != nil {
				return err
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
					return fmt.Errorf("the predictions are in the bucket as %s; %w", res.PredictionsKey, err) // err names out
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
	sig := activities.SignatureOf(v.Signature)
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

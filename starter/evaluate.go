package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

func newModelsEvaluateCmd(name func(*app) string) *cobra.Command {
	var x, y, csv, labelCol string
	var textCols []string
	var maxReject float64
	cmd := &cobra.Command{
		Use:   "evaluate VERSION [VERSION...]",
		Short: "score registered versions on a labelled test set, on the same rows, and compare them row by row",
		Long: `evaluate fetches each version's model file from the bucket and scores it here, on the same
labelled rows: weighted and macro F1, accuracy, log-loss and calibration error for each, and for every
two versions the rows only one of them gets right, with McNemar's exact test (a p-value under 0.05
says the difference is unlikely to be chance). Each version's own figures in models list come from
its own holdout, so they do not compare versions; these do.

The test set is the challenge's raw files (--x and --y) or a generic CSV (--csv); a CSV's columns
default to the ones the first version was trained on.`,
		Example: `  starter models evaluate 3 4 --x X_test.csv --y Y_test.csv
  starter models evaluate 7 --csv holdout.csv --text-col title,description --label-col category`,
		Args: cobra.MinimumNArgs(1),
		RunE: withApp(func(ctx context.Context, a *app, args []string) error {
			versions := make([]int, len(args))
			for i, s := range args {
				v, err := parseVersion(s)
				if err != nil {
					return err
				}
				if slices.Contains(versions[:i], v) {
					return usagef("version %d is given twice", v)
				}
				versions[i] = v
			}
			switch {
			case (x != "" || y != "") && csv != "":
				return usagef("give either --x and --y or --csv, not both")
			case csv == "" && (x == "" || y == ""):
				return usagef("give the labelled test set: --x and --y (the challenge's files) or --csv")
			case csv == "" && (len(textCols) > 0 || labelCol != ""):
				return usagef("--text-col and --label-col are for --csv: the raw files' columns are fixed")
			case !(maxReject > 0 && maxReject <= 1):
				return usagef("--max-reject-fraction %v: want a share in (0, 1]", maxReject)
			}
			r, err := a.models(ctx)
			if err != nil {
				return err
			}
			store, err := a.artifacts(ctx)
			if err != nil {
				return err
			}
			modelName := name(a)
			vs := make([]registry.Version, len(versions))
			for i, n := range versions {
				if vs[i], err = r.Version(ctx, modelName, n); err != nil {
					return fmt.Errorf("models evaluate: %w", err)
				}
			}
			opts := dataset.Options{MaxRejectFraction: maxReject}
			var test *dataset.Dataset
			if csv != "" {
				cols, label, err := evaluationColumns(vs[0], columns(textCols), labelCol)
				if err != nil {
					return err
				}
				if err := dataset.CheckColumns(cols, label, ""); err != nil {
					return usagef("%v", err)
				}
				test, err = readGeneric(csv, cols, label, opts)
				if err != nil {
					return err
				}
			} else {
				opts.KnownLabels = taxonomy.Codes()
				if test, err = readRaw(x, y, opts); err != nil {
					return err
				}
			}
			models := make([]*model.Model, len(vs))
			for i, v := range vs {
				if models[i], err = fetchModel(ctx, store, v); err != nil {
					return err
				}
			}
			res, err := activities.Compare(ctx, modelName, versions, models, test, nil)
			if err != nil {
				return err
			}
			return a.printJSON(res)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&x, "x", "", "local X file in the challenge's raw format")
	fl.StringVar(&y, "y", "", "local Y file in the challenge's raw format")
	fl.StringVar(&csv, "csv", "", "local labelled generic CSV")
	fl.StringSliceVar(&textCols, "text-col", nil, "text column(s) of the CSV, the title first (default: the first version's)")
	fl.StringVar(&labelCol, "label-col", "", "label column of the CSV (default: the first version's)")
	fl.Float64Var(&maxReject, "max-reject-fraction", 0.1, "fail when the file has more rejected rows than this share; 1 accepts any")
	return cmd
}

// evaluationColumns returns the text and label columns to read a test CSV
// with: those given, else the ones version v was trained on.
func evaluationColumns(v registry.Version, cols []string, label string) ([]string, string, error) {
	cols, label, ok := activities.SignatureOf(v.Signature).Columns(cols, label)
	if !ok {
		return nil, "", usagef("--csv needs --text-col and --label-col (version %d does not record the columns it was trained on)", v.Version)
	}
	return cols, label, nil
}

// fetchModel reads and decodes version v's model file from the bucket.
func fetchModel(ctx context.Context, store *artifact.Store, v registry.Version) (*model.Model, error) {
	data, err := store.Get(ctx, v.ArtifactKey)
	switch {
	case errors.Is(err, artifact.ErrNotFound):
		return nil, fmt.Errorf("version %d has no model file: %s is not in bucket %s", v.Version, v.ArtifactKey, store.Bucket())
	case err != nil:
		return nil, fmt.Errorf("version %d: %w", v.Version, err)
	}
	m, err := model.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("version %d: model file %s: %w", v.Version, v.ArtifactKey, err)
	}
	return m, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

// evaluation is what models evaluate prints.
type evaluation struct {
	Model    string `json:"model"`
	Rows     int    `json:"rows"`
	Rejected int    `json:"rejected"`
	// Versions are scored on the same rows, in the order given.
	Versions []versionScore `json:"versions"`
	// Pairs compares every two versions row by row.
	Pairs []pairScore `json:"pairs"`
}

type versionScore struct {
	Version    int     `json:"version"`
	WeightedF1 float64 `json:"weighted_f1"`
	MacroF1    float64 `json:"macro_f1"`
	Accuracy   float64 `json:"accuracy"`
	LogLoss    float64 `json:"log_loss"`
	ECE        float64 `json:"ece"`
	// UnknownLabels counts rows whose label the version does not know:
	// they count as mistakes.
	UnknownLabels int `json:"unknown_labels"`
}

// pairScore says how two versions differ on the same rows: the rows only
// one of them gets right, and McNemar's exact test of whether that split
// could be chance.
type pairScore struct {
	A          int     `json:"a"`
	B          int     `json:"b"`
	OnlyARight int     `json:"only_a_right"`
	OnlyBRight int     `json:"only_b_right"`
	McNemarP   float64 `json:"mcnemar_p"`
}

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
			res, err := evaluateVersions(modelName, vs, models, test)
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
	sig := activities.SignatureOf(v.Signature)
	if len(cols) == 0 {
		cols = sig.TextCols
	}
	if label == "" {
		label = sig.LabelCol
	}
	if len(cols) == 0 || label == "" {
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

// evaluateVersions scores each model (of version vs[i]) on test, and
// compares every two row by row.
func evaluateVersions(name string, vs []registry.Version, models []*model.Model, test *dataset.Dataset) (evaluation, error) {
	res := evaluation{Model: name, Rows: len(test.Examples), Rejected: len(test.Rejects), Versions: []versionScore{}, Pairs: []pairScore{}}
	right := make([][]bool, len(models))
	for i, m := range models {
		rep, err := classifier.Evaluate(m, test.Examples)
		if err != nil {
			return evaluation{}, fmt.Errorf("version %d: %w", vs[i].Version, err)
		}
		s := versionScore{Version: vs[i].Version, WeightedF1: rep.WeightedF1, MacroF1: rep.MacroF1, Accuracy: rep.Accuracy}
		if c := rep.Calibration; c != nil {
			s.LogLoss, s.ECE = c.LogLoss, c.ECE
		}
		known := make(map[string]bool, len(m.Labels))
		for _, l := range m.Labels {
			known[l.Code] = true
		}
		right[i] = make([]bool, len(test.Examples))
		for k, e := range test.Examples {
			if !known[e.Label] {
				s.UnknownLabels++
				continue
			}
			right[i][k] = m.Predict(e.Title, e.Body, 1).Best.Code == e.Label
		}
		res.Versions = append(res.Versions, s)
	}
	for i := range models {
		for j := i + 1; j < len(models); j++ {
			p := pairScore{A: vs[i].Version, B: vs[j].Version}
			for k := range test.Examples {
				switch {
				case right[i][k] && !right[j][k]:
					p.OnlyARight++
				case right[j][k] && !right[i][k]:
					p.OnlyBRight++
				}
			}
			p.McNemarP = mcNemarExact(p.OnlyARight, p.OnlyBRight)
			res.Pairs = append(res.Pairs, p)
		}
	}
	return res, nil
}

// mcNemarExact returns the two-sided exact McNemar p-value for b and c
// discordant rows: the chance, if each were equally likely to favour
// either side, of a split at least as uneven.
func mcNemarExact(b, c int) float64 {
	n, k := b+c, min(b, c)
	if n == 0 {
		return 1
	}
	// P(X <= k) for X ~ Binomial(n, 1/2), summed in logs: n may be large.
	lgN1, _ := math.Lgamma(float64(n + 1))
	var tail float64
	for i := 0; i <= k; i++ {
		lgI, _ := math.Lgamma(float64(i + 1))
		lgNI, _ := math.Lgamma(float64(n - i + 1))
		tail += math.Exp(lgN1 - lgI - lgNI - float64(n)*math.Ln2)
	}
	return min(1, 2*tail)
}

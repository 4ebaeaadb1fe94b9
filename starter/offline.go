package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/metrics"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/taxonomy"
	"github.com/prodcat/prodcat/workflows"
)

// offlineFlags are the options of `starter offline`.
type offlineFlags struct {
	xTrain, yTrain, xTest, yTest string
	train, test                  string
	textCols                     []string
	labelCol                     string
	out                          string
	predictions                  string
	jsonOut                      bool
	cv                           bool
	folds                        int
	grid                         string
	workers                      int
	logLevel                     string
	maxReject                    float64
	params                       string
}

// offlineResult is what --json prints.
type offlineResult struct {
	WeightedF1           float64           `json:"weighted_f1"`
	MacroF1              float64           `json:"macro_f1"`
	Accuracy             float64           `json:"accuracy"`
	LogLoss              float64           `json:"log_loss"`
	ECE                  float64           `json:"ece"`
	TrainSeconds         float64           `json:"train_seconds"`
	PredictRowsPerSecond float64           `json:"predict_rows_per_second"`
	ModelBytes           int               `json:"model_bytes"`
	PeakRSSBytes         int64             `json:"peak_rss_bytes"`
	TrainRows            int               `json:"train_rows"`
	TestRows             int               `json:"test_rows"`
	Classes              int               `json:"classes"`
	Features             int               `json:"features"`
	Params               classifier.Params `json:"params"`
	CV                   []cvSummary       `json:"cv,omitempty"`
	Report               *metrics.Report   `json:"-"`
	// Rejects counts the rows left out by set (train, test) and reason.
	Rejects map[string]map[string]int `json:"rejects,omitempty"`
	Extra   map[string]float64        `json:"-"`
}

type cvSummary struct {
	Params     classifier.Params `json:"params"`
	WeightedF1 float64           `json:"weighted_f1"`
}

func newOfflineCmd() *cobra.Command {
	var f offlineFlags
	cmd := &cobra.Command{
		Use:   "offline",
		Short: "train and evaluate a model on local files, with no services",
		Long: `Train a model on local files and evaluate it on a test file, with no Temporal,
S3 or database. Either the challenge's raw files:

  starter offline --x-train X_train.csv --y-train Y_train.csv --x-test X_test.csv --y-test Y_test.csv

or a generic CSV with text and label columns:

  starter offline --train train.csv --test test.csv --text-col text --label-col label

It prints the metrics, training time and model size (--json: one JSON object),
writes the model with --out and the test set's predictions with --predictions,
a CSV of id, label, predicted label and probability. --cv chooses parameters by cross-validation
over a small grid, or over --grid, a JSON classifier.Grid such as
'{"c":[0.5,1,2]}'; --grid '{}' cross-validates the default parameters alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOffline(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.xTrain, "x-train", "", "raw challenge X file for training")
	fl.StringVar(&f.yTrain, "y-train", "", "raw challenge Y file for training")
	fl.StringVar(&f.xTest, "x-test", "", "raw challenge X file for evaluation")
	fl.StringVar(&f.yTest, "y-test", "", "raw challenge Y file for evaluation")
	fl.StringVar(&f.train, "train", "", "generic CSV for training")
	fl.StringVar(&f.test, "test", "", "generic CSV for evaluation")
	fl.StringSliceVar(&f.textCols, "text-col", []string{"text"}, "text column(s) of the generic CSV, repeated or comma-separated; the first is the title")
	fl.StringVar(&f.labelCol, "label-col", "label", "label column of the generic CSV")
	fl.StringVar(&f.out, "out", "", "write the model file here")
	fl.StringVar(&f.predictions, "predictions", "", "write the test set's predictions here as CSV (id,label,predicted,probability)")
	fl.BoolVar(&f.jsonOut, "json", false, "print one JSON object instead of a report")
	fl.BoolVar(&f.cv, "cv", false, "choose parameters by k-fold cross-validation on the training data")
	fl.IntVar(&f.folds, "folds", 3, "folds for --cv")
	fl.StringVar(&f.grid, "grid", "", `parameter grid for --cv as JSON, e.g. {"c":[0.5,1,2],"char_ranges":[[2,5],[3,5]]} (default: a small built-in grid)`)
	fl.IntVar(&f.workers, "workers", 0, "goroutines for training (0: all cores)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.params, "params", "", "JSON file with classifier parameters (default: the built-in defaults); with --cv, the base the grid varies")
	fl.Float64Var(&f.maxReject, "max-reject-fraction", workflows.DefaultMaxRejectFraction, "fail when a file has more rejected rows (malformed, no text, no or unknown label) than this share; 1 accepts any")
	return cmd
}

func runOffline(ctx context.Context, f offlineFlags, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := logging.New(stderr, logging.Text, logging.Text, f.logLevel)
	if err != nil {
		return usagef("offline: --log-level %q: want debug, info, warn or error", f.logLevel)
	}
	params := classifier.DefaultParams()
	if f.params != "" {
		if params, err = readParams(f.params); err != nil {
			return err
		}
		if err := params.Validate(); err != nil {
			return usagef("offline: --params %s: %w", f.params, err)
		}
	}
	grid := classifier.DefaultGrid()
	if f.grid != "" {
		if !f.cv {
			return usagef("offline: --grid needs --cv")
		}
		grid = classifier.Grid{}
		if err := decodeStrict([]byte(f.grid), &grid); err != nil {
			return usagef("offline: --grid: %w (want a JSON object with c, word_ngrams, char_ranges, title_weights, naive_bayes)", err)
		}
	}
	if f.cv {
		if f.folds < 2 {
			return usagef("offline: --folds %d: want at least 2", f.folds)
		}
		if err := grid.Check(params); err != nil {
			return usagef("offline: --grid: %w", err)
		}
	}
	if f.workers < 0 {
		return usagef("offline: --workers %d: want 0 (all cores) or more", f.workers)
	}
	train, test, err := readOfflineData(f)
	if err != nil {
		return err
	}
	res := offlineResult{TrainRows: len(train.Examples), TestRows: len(test.Examples)}
	for name, d := range map[string]*dataset.Dataset{"train": train, "test": test} {
		if len(d.Rejects) > 0 {
			log.WithField("set", name).Warnf("rejected %d rows: %s", len(d.Rejects), d.RejectSummary())
			if res.Rejects == nil {
				res.Rejects = map[string]map[string]int{}
			}
			res.Rejects[name] = d.RejectCounts()
		}
	}
	log.WithFields(logrus.Fields{"train": len(train.Examples), "test": len(test.Examples)}).Info("data read")
	if err := checkTestLabels(train.Examples, test.Examples, f.maxReject, log); err != nil {
		return err
	}
	opts := classifier.Options{Workers: f.workers}
	if f.cv {
		bar := newProgressBar(stderr, "cross-validation")
		opts.Progress = bar.Update
		cands, err := classifier.Select(ctx, train.Examples, params, grid, f.folds, opts)
		bar.Done()
		if err != nil {
			return err
		}
		params = cands[0].Params
		for _, c := range cands {
			res.CV = append(res.CV, cvSummary{Params: c.Params, WeightedF1: c.WeightedF1})
			log.WithFields(logrus.Fields{
				"c": c.Params.Solver.C, "naive_bayes": c.Params.Solver.NaiveBayes, "word_ngrams": c.Params.Features.WordNgrams,
				"char": fmt.Sprintf("%d-%d", c.Params.Features.CharMin, c.Params.Features.CharMax), "title_weight": c.Params.Features.TitleWeight,
			}).Infof("cv weighted F1 %.4f", c.WeightedF1)
		}
	}
	res.Params = params

	bar := newProgressBar(stderr, "training")
	opts.Progress = bar.Update
	start := time.Now()
	m, err := classifier.Train(ctx, train.Examples, params, opts, nil)
	bar.Done()
	if err != nil {
		return err
	}
	if f.raw() {
		classifier.NameRakuten(m)
	}
	res.TrainSeconds = time.Since(start).Seconds()
	log.WithField("seconds", fmt.Sprintf("%.2f", res.TrainSeconds)).Info("trained")
	if n := m.Linear.Unconverged; n > 0 {
		log.WithFields(logrus.Fields{"unconverged": n, "max_iter": params.Solver.MaxIter, "tol": params.Solver.Tol}).
			Warn("the solver stopped at max_iter before reaching tol; the model may be less accurate (raise max_iter or tol)")
	}

	b, err := m.Encode()
	if err != nil {
		return err
	}
	res.ModelBytes = len(b)
	res.Classes = len(m.Labels)
	res.Features = m.Linear.Features
	if f.out != "" {
		if err := writeFile(f.out, b); err != nil {
			return fmt.Errorf("write model: %w", err)
		}
		log.WithField("path", f.out).Info("model written")
	}

	if err := evaluate(m, test.Examples, &res); err != nil {
		return err
	}
	res.PeakRSSBytes = peakRSS()
	if f.predictions != "" {
		if err := writePredictions(f.predictions, m, test.Examples); err != nil {
			return err
		}
		log.WithField("path", f.predictions).Info("predictions written")
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprint(stdout, res.Report.String())
	fmt.Fprintf(stdout, "\nweighted F1 %.4f  macro F1 %.4f  accuracy %.4f\n", res.WeightedF1, res.MacroF1, res.Accuracy)
	fmt.Fprintf(stdout, "probabilities: log-loss %.4f, expected calibration error %.4f\n", res.LogLoss, res.ECE)
	fmt.Fprintf(stdout, "train %.2f s on %d rows, %d classes, %d features\n", res.TrainSeconds, res.TrainRows, res.Classes, res.Features)
	fmt.Fprintf(stdout, "predict %.0f rows/s (one goroutine), model %d bytes, peak RSS %d MiB\n", res.PredictRowsPerSecond, res.ModelBytes, res.PeakRSSBytes>>20)
	return nil
}

// checkTestLabels warns about test rows whose label the training set
// lacks: the model cannot predict them, and they count as its mistakes, as
// scikit-learn counts them. More than maxShare of them is an error, as it
// says the test file is not one of the same task.
func checkTestLabels(train, test []dataset.Example, maxShare float64, log logrus.FieldLogger) error {
	known := make(map[string]bool)
	for _, e := range train {
		known[e.Label] = true
	}
	unknown := 0
	var examples []string
	for _, e := range test {
		if !known[e.Label] {
			unknown++
			if len(examples) < 5 && !slices.Contains(examples, e.Label) {
				examples = append(examples, e.Label)
			}
		}
	}
	if unknown == 0 {
		return nil
	}
	share := float64(unknown) / float64(len(test))
	if share > maxShare {
		return fmt.Errorf("offline: %d of %d test rows (%.0f%%) have labels the training set lacks, such as %q: is --test a file of the same task? (--max-reject-fraction %v)",
			unknown, len(test), 100*share, examples, maxShare)
	}
	log.WithFields(logrus.Fields{"rows": unknown, "labels": examples}).Warn("test rows with labels the training set lacks count as mistakes")
	return nil
}

// evaluate scores m on the test examples and times the predictions.
func evaluate(m *model.Model, test []dataset.Example, res *offlineResult) error {
	start := time.Now()
	r, err := classifier.Evaluate(m, test)
	if err != nil {
		return err
	}
	if d := time.Since(start).Seconds(); d > 0 {
		res.PredictRowsPerSecond = float64(len(test)) / d
	}
	res.Report = &r
	res.WeightedF1, res.MacroF1, res.Accuracy = r.WeightedF1, r.MacroF1, r.Accuracy
	if c := r.Calibration; c != nil {
		res.LogLoss, res.ECE = c.LogLoss, c.ECE
	}
	return nil
}

// writePredictions writes m's prediction for every example to path as CSV.
func writePredictions(path string, m *model.Model, examples []dataset.Example) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"id", "label", "predicted", "probability"})
	for _, e := range examples {
		p := m.Predict(e.Title, e.Body, 1)
		_ = w.Write([]string{e.ID, e.Label, p.Best.Code, strconv.FormatFloat(p.Best.Prob, 'f', 6, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write predictions %s: %w", path, err)
	}
	if err := writeFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write predictions: %w", err)
	}
	return nil
}

// checkWritable reports whether writeFile could write path: its directory
// takes a new file and path is not a directory.
func checkWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err == nil {
		tmp.Close()
		err = os.Remove(tmp.Name())
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, withoutFileName(err))
	}
	return nil
}

// writeFile writes data to path through a temporary file in the same
// directory, so a failure leaves no partial file behind.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, withoutFileName(err))
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, withoutFileName(err))
	}
	return nil
}

// withoutFileName returns the cause of a *fs.PathError or *os.LinkError:
// they name the temporary file, which means nothing to the user.
func withoutFileName(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// raw reports whether f names any of the challenge's raw files.
func (f offlineFlags) raw() bool {
	return f.xTrain != "" || f.yTrain != "" || f.xTest != "" || f.yTest != ""
}

// readOfflineData reads the training and test sets from raw or generic files.
func readOfflineData(f offlineFlags) (train, test *dataset.Dataset, err error) {
	raw := f.raw()
	generic := f.train != "" || f.test != ""
	if !(f.maxReject > 0 && f.maxReject <= 1) {
		return nil, nil, usagef("offline: --max-reject-fraction %v: want a share in (0, 1]", f.maxReject)
	}
	opts := dataset.Options{MaxRejectFraction: f.maxReject}
	switch {
	case raw && generic:
		return nil, nil, usagef("offline: give either --x-train/--y-train/--x-test/--y-test or --train/--test, not both")
	case raw:
		if f.xTrain == "" || f.yTrain == "" || f.xTest == "" || f.yTest == "" {
			return nil, nil, usagef("offline: raw files need all of --x-train, --y-train, --x-test and --y-test")
		}
		// The challenge's files carry prdtypecodes, as the pipeline
		// reads them: anything else is an unknown label.
		opts.KnownLabels = taxonomy.Codes()
		if train, err = readRaw(f.xTrain, f.yTrain, opts); err != nil {
			return nil, nil, err
		}
		test, err = readRaw(f.xTest, f.yTest, opts)
		return train, test, err
	case generic:
		if f.train == "" || f.test == "" {
			return nil, nil, usagef("offline: generic CSV needs both --train and --test")
		}
		cols := columns(f.textCols)
		if train, err = readGeneric(f.train, cols, f.labelCol, opts); err != nil {
			return nil, nil, err
		}
		test, err = readGeneric(f.test, cols, f.labelCol, opts)
		return train, test, err
	}
	return nil, nil, usagef("offline: no data: give --x-train/--y-train/--x-test/--y-test or --train/--test")
}

// columns returns the column names of a repeated, comma-separated flag,
// trimmed, without empty ones.
func columns(lists []string) []string {
	var cols []string
	for _, list := range lists {
		for _, c := range strings.Split(list, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
	}
	return cols
}

func readRaw(xPath, yPath string, opts dataset.Options) (*dataset.Dataset, error) {
	x, err := os.Open(xPath)
	if err != nil {
		return nil, err // names the file
	}
	defer x.Close()
	y, err := os.Open(yPath)
	if err != nil {
		return nil, err // names the file
	}
	defer y.Close()
	d, err := dataset.ReadRaw(x, y, opts)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", xPath, err)
	}
	return d, nil
}

func readGeneric(path string, textCols []string, labelCol string, opts dataset.Options) (*dataset.Dataset, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err // names the file
	}
	defer r.Close()
	d, err := dataset.ReadCSV(r, textCols, labelCol, opts)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return d, nil
}

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024 // Linux reports KiB
}

// progressBar draws "label [#####.....] done/total" on a terminal and
// nothing otherwise. Update and Relabel may be called from any goroutine.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	on    bool
	drawn bool
	width int // of the line drawn last, to blank what a shorter one leaves
}

func newProgressBar(w io.Writer, label string) *progressBar {
	on := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progressBar{w: w, label: label, on: on}
}

// Update redraws the bar at done of total.
func (b *progressBar) Update(done, total int) { b.draw(done, total, fmt.Sprintf("%d/%d", done, total)) }

// Percent redraws the bar at p percent.
func (b *progressBar) Percent(p int) { b.draw(p, 100, fmt.Sprintf("%d%%", p)) }

// draw redraws the bar at done of total, followed by figure.
func (b *progressBar) draw(done, total int, figure string) {
	if !b.on || total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	const width = 30
	n := min(width, done*width/total)
	line := fmt.Sprintf("%s [%s%s] %s", b.label, strings.Repeat("#", n), strings.Repeat(".", width-n), figure)
	fmt.Fprintf(b.w, "\r%-*s", b.width, line)
	b.drawn, b.width = true, len(line)
}

// Relabel sets the label the next Update draws.
func (b *progressBar) Relabel(label string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.label = label
}

// Done ends the bar's line.
func (b *progressBar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn, b.width = false, 0
	}
}

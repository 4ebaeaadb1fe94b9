package activities

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
)

// signatureJSON is the input/output signature recorded with a version of
// the challenge's files.
const signatureJSON = `{
  "inputs": {"designation": "string", "description": "string (HTML allowed, may be empty)"},
  "outputs": {"prdtypecode": "string", "probability": "number", "top_k": "[{prdtypecode, probability}]"}
}`

// CSVSignature is the signature recorded with a version trained on a
// generic CSV: the columns it reads, the title first, and the one it
// predicts. predict-batch reads the text columns back.
type CSVSignature struct {
	TextCols []string          `json:"text_cols"`
	LabelCol string            `json:"label_col"`
	Inputs   map[string]string `json:"inputs"`
	Outputs  map[string]string `json:"outputs"`
}

// SignatureOf reads the CSV signature of a version from its recorded
// signature; a version of the challenge's files has none of its fields.
func SignatureOf(raw json.RawMessage) CSVSignature {
	var sig CSVSignature
	_ = json.Unmarshal(raw, &sig) // the challenge's signature is another shape
	return sig
}

// signature returns the signature of a version trained on src.
func signature(src *Source) (json.RawMessage, error) {
	if src == nil || src.CSVKey == "" {
		return json.RawMessage(signatureJSON), nil
	}
	sig := CSVSignature{
		TextCols: src.TextCols, LabelCol: src.LabelCol, Inputs: map[string]string{},
		Outputs: map[string]string{src.LabelCol: "string", "probability": "number"},
	}
	for _, c := range src.TextCols {
		sig.Inputs[c] = "string"
	}
	b, err := json.Marshal(sig)
	if err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	return b, nil
}

func jsonRaw(v any) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode params: %w", err)
	}
	return data, nil
}

// BatchPredict predicts every row of an unlabelled X file or generic CSV
// with the model the alias points at, and writes predictions.csv with one
// line per input row (rows that cannot be read get an empty prediction and
// the reason). A generic CSV's rows are named by its pandas index column
// when it has one, else by their row number.
func (a *Activities) BatchPredict(ctx context.Context, in BatchPredictInput) (res BatchPredictResult, err error) {
	ctx, done := a.untilWorkerStops(ctx, "batch predict", stopGrace)
	defer func() { err = done(err) }()
	return a.batchPredict(ctx, in)
}

func (a *Activities) batchPredict(ctx context.Context, in BatchPredictInput) (BatchPredictResult, error) {
	var (
		done, total atomic.Int64
		waiting     atomic.Bool
	)
	defer heartbeat(ctx, func() any {
		return StageProgress{Stage: PredictStage, Done: done.Load(), Total: total.Load(), Unit: "rows", WaitingForDataSlot: waiting.Load()}
	})()
	key, header := in.XKey, []string{"productid", "prdtypecode", "category", "probability", "error"}
	if in.CSVKey != "" {
		key, header = in.CSVKey, []string{"id", "label", "category", "probability", "error"}
	}
	switch err := (Source{XKey: in.XKey, CSVKey: in.CSVKey, TextCols: in.TextCols}).CheckKeys(); {
	case (in.XKey == "") == (in.CSVKey == ""):
		return BatchPredictResult{}, badParams("batch predict: give exactly one of x_key and csv_key")
	case in.CSVKey != "" && len(in.TextCols) == 0:
		return BatchPredictResult{}, badParams("batch predict: csv_key needs text_cols")
	case err != nil:
		return BatchPredictResult{}, badParams("batch predict: %v", err)
	}
	release, err := a.holdData(ctx, &waiting)
	if err != nil {
		return BatchPredictResult{}, err
	}
	defer release()
	alias := in.Alias
	if alias == "" {
		alias = "production"
	}
	v, err := a.Registry.Alias(ctx, in.ModelName, alias)
	switch {
	case errors.Is(err, registry.ErrNotFound) && alias == "production":
		return BatchPredictResult{}, noModel("batch predict: model %s has no production version yet: train one first", in.ModelName)
	case errors.Is(err, registry.ErrNotFound):
		return BatchPredictResult{}, noModel("batch predict: model %s has no alias %s (starter models promote VERSION --alias %s sets it)", in.ModelName, alias, alias)
	}
	if errors.Is(err, registry.ErrInvalid) {
		return BatchPredictResult{}, badParams("batch predict: %v", err)
	}
	if err != nil {
		return BatchPredictResult{}, err
	}
	m, err := a.loadModelFor(ctx, v.ArtifactKey, fmt.Sprintf("batch predict: model %s v%d (%s)", in.ModelName, v.Version, alias))
	if err != nil {
		return BatchPredictResult{}, err
	}
	data, err := a.Store.Get(ctx, key)
	if err != nil {
		return BatchPredictResult{}, classify("read "+key, err)
	}
	// With no reject limit, bad data is a file that cannot be predicted:
	// empty, with a bad header, without a usable row, not UTF-8, or cut
	// short by a quote that is never closed.
	var ds *dataset.Dataset
	if in.CSVKey != "" {
		ds, err = dataset.ReadCSV(bytes.NewReader(data), in.TextCols, "", dataset.Options{})
	} else {
		ds, err = dataset.ReadRaw(bytes.NewReader(data), nil, dataset.Options{})
	}
	if errors.Is(err, dataset.ErrBadData) {
		return BatchPredictResult{}, badData("batch predict: %v", err)
	}
	if err != nil {
		// ReadCSV refuses columns given twice and the like as a usage error.
		return BatchPredictResult{}, badParams("batch predict: %v", err)
	}
	total.Store(int64(len(ds.Examples)))
	data = nil // the rows hold what they need; the file's bytes may go

	// The predictions go through a temporary file, so a large batch costs
	// disk, not a second copy of the data in memory.
	f, err := os.CreateTemp("", "prodcat-predictions-*.csv")
	if err != nil {
		return BatchPredictResult{}, fmt.Errorf("batch predict: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	_ = w.Write(header)
	for i, e := range ds.Examples {
		if i%1024 == 0 && ctx.Err() != nil {
			return BatchPredictResult{}, ctx.Err()
		}
		p := m.Predict(e.Title, e.Body, 1)
		_ = w.Write([]string{e.ID, p.Best.Code, cmp.Or(p.Best.EN, p.Best.Code), strconv.FormatFloat(p.Best.Prob, 'f', 4, 64), ""})
		done.Add(1)
	}
	for _, r := range ds.Rejects {
		_ = w.Write([]string{r.ID, "", "", "", fmt.Sprintf("line %d: %s", r.Line, r.Reason)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), bw.Flush(), f.Close()); err != nil {
		return BatchPredictResult{}, fmt.Errorf("batch predict: write %s: %w", f.Name(), err)
	}
	ref, err := a.keep(ctx, "predictions file", func(ctx context.Context) (artifact.Ref, error) {
		return a.Store.PutFile(ctx, artifact.Predictions, f.Name(), ".csv", "text/csv")
	})
	if err != nil {
		return BatchPredictResult{}, err
	}
	a.logger(ctx).WithFields(map[string]any{"rows": len(ds.Examples), "rejected": len(ds.Rejects), "predictions": ref.Key, "version": v.Version}).Info("batch predicted")
	return BatchPredictResult{PredictionsKey: ref.Key, Rows: len(ds.Examples), Rejected: len(ds.Rejects), ModelVersion: v.Version}, nil
}

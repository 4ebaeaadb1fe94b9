package activities

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/taxonomy"
)

// signatureJSON is the input/output signature recorded with every version.
const signatureJSON = `{
  "inputs": {"designation": "string", "description": "string (HTML allowed, may be empty)"},
  "outputs": {"prdtypecode": "string", "probability": "number", "top_k": "[{prdtypecode, probability}]"}
}`

func jsonRaw(v any) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode params: %w", err)
	}
	return data, nil
}

// BatchPredict predicts every row of an unlabelled X file with the model
// the alias points at, and writes predictions.csv with one line per input
// row (rows that cannot be read get an empty prediction and the reason).
func (a *Activities) BatchPredict(ctx context.Context, in BatchPredictInput) (BatchPredictResult, error) {
	var done, total atomic.Int64
	defer heartbeat(ctx, func() any { return StageProgress{Stage: "predict", Done: done.Load(), Total: total.Load()} })()
	alias := in.Alias
	if alias == "" {
		alias = "production"
	}
	v, err := a.Registry.Alias(ctx, in.ModelName, alias)
	if errors.Is(err, registry.ErrNotFound) {
		return BatchPredictResult{}, noModel("batch predict: model %s has no %s version yet: train one first", in.ModelName, alias)
	}
	if errors.Is(err, registry.ErrInvalid) {
		return BatchPredictResult{}, badParams("batch predict: %v", err)
	}
	if err != nil {
		return BatchPredictResult{}, err
	}
	m, err := a.loadModel(ctx, v.ArtifactKey)
	if err != nil {
		return BatchPredictResult{}, err
	}
	x, err := a.Store.Get(ctx, in.XKey)
	if err != nil {
		return BatchPredictResult{}, classify("read X", err)
	}
	// With no reject limit, bad data is a file that cannot be predicted:
	// empty, with a bad header, without a usable row, not UTF-8, or cut
	// short by a quote that is never closed.
	ds, err := dataset.ReadRaw(bytes.NewReader(x), nil, dataset.Options{})
	if errors.Is(err, dataset.ErrBadData) {
		return BatchPredictResult{}, badData("batch predict: %v", err)
	}
	if err != nil {
		return BatchPredictResult{}, fmt.Errorf("batch predict: %w", err)
	}
	total.Store(int64(len(ds.Examples)))

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"productid", "prdtypecode", "category", "probability", "error"})
	for i, e := range ds.Examples {
		if i%1024 == 0 && ctx.Err() != nil {
			return BatchPredictResult{}, ctx.Err()
		}
		p := m.Predict(e.Title, e.Body, 1)
		_ = w.Write([]string{e.ID, p.Best.Code, taxonomy.Name(p.Best.Code), strconv.FormatFloat(p.Best.Prob, 'f', 4, 64), ""})
		done.Add(1)
	}
	for _, r := range ds.Rejects {
		_ = w.Write([]string{r.ID, "", "", "", fmt.Sprintf("line %d: %s", r.Line, r.Reason)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return BatchPredictResult{}, fmt.Errorf("batch predict: write csv: %w", err)
	}
	ref, err := a.Store.Put(ctx, artifact.Predictions, buf.Bytes(), ".csv", "text/csv")
	if err != nil {
		return BatchPredictResult{}, err
	}
	a.logger(ctx).WithFields(map[string]any{"rows": len(ds.Examples), "rejected": len(ds.Rejects), "predictions": ref.Key, "version": v.Version}).Info("batch predicted")
	return BatchPredictResult{PredictionsKey: ref.Key, Rows: len(ds.Examples), Rejected: len(ds.Rejects), ModelVersion: v.Version}, nil
}

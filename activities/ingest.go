package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"go.temporal.io/sdk/activity"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/registry"
)

// rejectsReport is the quarantine artifact: every rejected row and why.
type rejectsReport struct {
	Sources []string         `json:"sources"`
	Rows    int              `json:"rows"`
	Counts  map[string]int   `json:"counts"`
	Rejects []dataset.Reject `json:"rejects"`
	Repairs []dataset.Reject `json:"repairs,omitempty"`
}

// Ingest reads the input objects, validates them, quarantines rejected
// rows in a report, and writes a dataset snapshot split into a training
// part and a hash-based holdout (see dataset.Split: every row keeps its side
// as the data grows, and every label gets about the same fraction of
// holdout rows). It records the dataset
// and starts the registry run. It fails non-retryably when nothing usable
// remains or when the rejects pass in.MaxRejectFraction.
func (a *Activities) Ingest(ctx context.Context, in IngestInput) (IngestResult, error) {
	log := a.logger(ctx)
	var waiting atomic.Bool
	defer heartbeat(ctx, func() any { return StageProgress{Stage: "ingest", WaitingForDataSlot: waiting.Load()} })()
	opts := dataset.Options{MaxRejectFraction: in.MaxRejectFraction}
	var (
		ds      *dataset.Dataset
		err     error
		sources []string
	)
	if in.Source.Feed != "" {
		return IngestResult{}, badParams("ingest: feed %s is not resolved: TrainingPipeline resolves it (ResolveFeed) and passes its objects", in.Source.Feed)
	}
	if (in.Feed == "") != (in.FeedVersion <= 0) {
		return IngestResult{}, badParams("ingest: feed %q version %d: want a feed and a positive version, or neither", in.Feed, in.FeedVersion)
	}
	if err := errors.Join(in.Source.CheckKeys(), in.Source.CheckColumns()); err != nil {
		return IngestResult{}, badParams("ingest: %v", err)
	}
	// The pipeline leaves the classifier's parameters to the activities,
	// whose checks may change between deploys; this is the first of them.
	if err := in.Params.Validate(); err != nil {
		return IngestResult{}, badParams("invalid training parameters: %v", err)
	}
	release, err := a.holdData(ctx, &waiting)
	if err != nil {
		return IngestResult{}, err
	}
	defer release()
	sources, _ = in.Source.objects()
	if len(sources) == 0 {
		return IngestResult{}, badData("ingest: no input objects given")
	}
	objects, err := a.getObjects(ctx, in.Source, in.readError)
	if err != nil {
		return IngestResult{}, err
	}
	ds, err = in.Source.readLabelled(objects, opts)

	var rejectsKey string
	if ds != nil && (len(ds.Rejects) > 0 || len(ds.Repairs) > 0) {
		ref, perr := a.putJSON(ctx, artifact.Report, rejectsReport{
			Sources: sources, Rows: len(ds.Examples), Counts: ds.RejectCounts(), Rejects: ds.Rejects, Repairs: ds.Repairs,
		}, ".rejects.json")
		if perr != nil {
			return IngestResult{}, perr
		}
		rejectsKey = ref.Key
	}
	if err != nil {
		if errors.Is(err, dataset.ErrBadData) {
			msg := err.Error()
			if rejectsKey != "" {
				msg += " (rejected rows are listed in " + rejectsKey + ")"
			}
			return IngestResult{}, badData("ingest: %s", msg)
		}
		return IngestResult{}, fmt.Errorf("ingest: %w", err)
	}
	labels := dataset.Labels(ds.Examples)
	if len(labels) < 2 {
		return IngestResult{}, badData("ingest: %d distinct labels: a classifier needs at least 2", len(labels))
	}
	for _, e := range ds.Examples {
		if e.Label == "" {
			return IngestResult{}, badData("ingest: example %s has no label", e.ID)
		}
	}

	by := dataset.ByID
	if ds.RowIDs {
		by = dataset.ByText
	}
	train, holdout := dataset.Split(ds.Examples, in.HoldoutFraction, HoldoutSalt, by)
	if len(holdout) == 0 {
		return IngestResult{}, badData("ingest: holdout is empty (%d rows): too little data to evaluate", len(ds.Examples))
	}
	trainRef, err := a.putSnapshot(ctx, train)
	if err != nil {
		return IngestResult{}, err
	}
	holdoutRef, err := a.putSnapshot(ctx, holdout)
	if err != nil {
		return IngestResult{}, err
	}
	// The snapshot is the data and its split: the same rows held out at
	// another fraction are another dataset, with their own lineage.
	digest := snapshotDigest(trainRef.Digest, holdoutRef.Digest)
	err = a.Registry.RecordDataset(ctx, registry.Dataset{
		Digest: digest, SourceKeys: sources, TrainKey: trainRef.Key, HoldoutKey: holdoutRef.Key, RejectsKey: rejectsKey,
		Rows: len(ds.Examples), Classes: len(labels), Rejected: len(ds.Rejects), RejectReasons: ds.RejectCounts(),
		HoldoutFraction: in.HoldoutFraction, HoldoutSalt: HoldoutSalt, TrainRows: len(train), HoldoutRows: len(holdout),
	})
	if err != nil {
		return IngestResult{}, err
	}
	params, err := json.Marshal(in.Params)
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest: encode params: %w", err)
	}
	info := activity.GetInfo(ctx)
	run, err := a.Registry.StartRun(ctx, registry.Run{
		Model: in.ModelName, WorkflowID: info.WorkflowExecution.ID, WorkflowRunID: info.WorkflowExecution.RunID,
		DatasetDigest: digest, Feed: in.Feed, FeedVersion: in.FeedVersion, Params: params, CodeVersion: a.CodeVersion,
	})
	if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrInvalid) {
		// Retrying cannot publish the feed version or fix the input.
		return IngestResult{}, badParams("ingest: %v", err)
	}
	if err != nil {
		return IngestResult{}, err
	}
	res := IngestResult{
		DatasetDigest: digest, TrainKey: trainRef.Key, HoldoutKey: holdoutRef.Key, RejectsKey: rejectsKey,
		Rows: len(ds.Examples), TrainRows: len(train), HoldoutRows: len(holdout), Classes: len(labels),
		Rejected: len(ds.Rejects), RunID: run.ID, Source: in.Source, Feed: in.Feed, FeedVersion: in.FeedVersion,
	}
	log.WithFields(map[string]any{"dataset": digest, "rows": res.Rows, "rejected": res.Rejected, "classes": res.Classes}).Info("dataset ingested")
	return res, nil
}

// snapshotDigest identifies a snapshot by the digests of its two parts.
func snapshotDigest(train, holdout string) string {
	sum := sha256.Sum256([]byte("prodcat-snapshot-v1\n" + train + "\n" + holdout))
	return hex.EncodeToString(sum[:])
}

func (a *Activities) putSnapshot(ctx context.Context, ex []dataset.Example) (artifact.Ref, error) {
	var buf bytes.Buffer
	if err := dataset.WriteSnapshot(&buf, ex); err != nil {
		return artifact.Ref{}, fmt.Errorf("write snapshot: %w", err)
	}
	return a.Store.Put(ctx, artifact.Dataset, buf.Bytes(), ".jsonl", "application/x-ndjson")
}

// readError is the error of reading one of the input's files, naming the
// feed version that named it: an object removed from the bucket after it
// was published fails every training on that version until a new one is.
func (in IngestInput) readError(file string, err error) error {
	op := "read " + file
	switch {
	case in.Feed == "":
	case errors.Is(err, artifact.ErrNotFound):
		op = fmt.Sprintf("read %s of feed %s version %d (publish a new version if it was removed)", file, in.Feed, in.FeedVersion)
	default:
		op = fmt.Sprintf("read %s of feed %s version %d", file, in.Feed, in.FeedVersion)
	}
	return classify(op, err)
}

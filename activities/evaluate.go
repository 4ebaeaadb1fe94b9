package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/dataset"
	"github.com/prodcat/prodcat/internal/model"
	"github.com/prodcat/prodcat/internal/registry"
)

// Evaluate scores the model on the holdout and stores the full report (per
// class figures and the confusion matrix) as an artifact and its headline
// metrics on the registry run.
func (a *Activities) Evaluate(ctx context.Context, in EvaluateInput) (EvaluateResult, error) {
	var waiting atomic.Bool
	defer heartbeat(ctx, func() any { return StageProgress{Stage: "evaluate", WaitingForDataSlot: waiting.Load()} })()
	release, err := a.holdData(ctx, &waiting)
	if err != nil {
		return EvaluateResult{}, err
	}
	defer release()
	m, err := a.loadModel(ctx, in.ModelKey)
	if err != nil {
		return EvaluateResult{}, err
	}
	holdout, err := a.snapshot(ctx, in.HoldoutKey)
	if err != nil {
		return EvaluateResult{}, err
	}
	rep, err := classifier.Evaluate(m, holdout)
	if err != nil {
		return EvaluateResult{}, badData("evaluate: %v", err)
	}
	ref, err := a.putJSON(ctx, artifact.Report, Report{ModelKey: in.ModelKey, HoldoutKey: in.HoldoutKey, Rows: len(holdout), Metrics: rep}, ".json")
	if err != nil {
		return EvaluateResult{}, err
	}
	res := EvaluateResult{ReportKey: ref.Key, WeightedF1: rep.WeightedF1, MacroF1: rep.MacroF1, Accuracy: rep.Accuracy}
	if c := rep.Calibration; c != nil {
		res.LogLoss, res.ECE = c.LogLoss, c.ECE
	}
	recorded := res.metrics()
	recorded["holdout_rows"] = float64(len(holdout))
	if err := a.Registry.RecordMetrics(ctx, in.RunID, recorded); err != nil {
		return EvaluateResult{}, classify("evaluate", err)
	}
	a.logger(ctx).WithFields(map[string]any{"weighted_f1": res.WeightedF1, "macro_f1": res.MacroF1, "log_loss": res.LogLoss, "ece": res.ECE, "report": ref.Key}).Info("model evaluated")
	return res, nil
}

// Register applies the promotion gate and creates the model version with
// its lineage: production moves to the candidate only when it beats the
// current production model, scored on the same holdout, by in.Gate.Margin;
// otherwise the candidate becomes challenger. The gate decides before the
// version is created, so a gate that fails (the bucket down past the
// retries, say) leaves no version behind. A production version whose file
// is missing or corrupt is replaced by a candidate that passes the gate's
// other terms. A candidate under the absolute floor is not registered and
// fails the run.
func (a *Activities) Register(ctx context.Context, in RegisterInput) (RegisterResult, error) {
	var waiting atomic.Bool
	defer heartbeat(ctx, func() any { return StageProgress{Stage: "register", WaitingForDataSlot: waiting.Load()} })()
	ev := in.Evaluation
	if ev.WeightedF1 < in.Gate.Floor {
		return RegisterResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("quality gate: weighted F1 %.4f is under the floor %.4f", ev.WeightedF1, in.Gate.Floor), ErrQualityGate, nil)
	}
	info := activity.GetInfo(ctx)
	params, err := jsonRaw(in.Params)
	if err != nil {
		return RegisterResult{}, err
	}
	if res, done, err := a.registered(ctx, in); err != nil || done {
		return res, err
	}
	// The gate loads both models and the holdouts.
	release, err := a.holdData(ctx, &waiting)
	if err != nil {
		return RegisterResult{}, err
	}
	defer release()
	res, err := a.gate(ctx, in)
	if err != nil {
		return RegisterResult{}, err
	}
	if same, err := a.identicalVersion(ctx, in); err != nil {
		return RegisterResult{}, err
	} else if same > 0 {
		return a.reuseVersion(ctx, in, res, same)
	}
	sig, err := signature(in.Source)
	if err != nil {
		return RegisterResult{}, err
	}
	v, err := a.Registry.CreateVersion(ctx, registry.NewVersion{
		Model: in.ModelName, RunID: in.RunID, WorkflowID: info.WorkflowExecution.ID, WorkflowRunID: info.WorkflowExecution.RunID,
		DatasetDigest: in.DatasetDigest, Params: params, CodeVersion: a.CodeVersion,
		ArtifactKey: in.Model.Key, ArtifactDigest: in.Model.Digest, ReportKey: ev.ReportKey,
		Metrics:   ev.metrics(),
		Signature: sig,
	})
	if err != nil {
		return RegisterResult{}, classify("register", err)
	}
	res.Version = v.Version
	pub := registry.Publication{
		RunID: in.RunID, Model: in.ModelName, Alias: res.Alias, Version: v.Version,
		Reason: res.Reason, Actor: runActor(ctx),
	}
	if res.Promoted {
		// Move production only if it still points where the gate looked: a
		// run that finished meanwhile may have promoted a better model. The
		// conflict is retryable, and the retry decides again.
		pub.Expected = &res.BaselineVersion
	}
	// The alias move and the run's success land together or not at all.
	// Production having moved since the gate looked is a conflict worth
	// retrying; a run already marked failed is not.
	if _, err := a.Registry.Publish(ctx, pub); err != nil {
		return RegisterResult{}, classify("register", err)
	}
	a.logger(ctx).WithFields(map[string]any{"model": in.ModelName, "version": v.Version, "alias": res.Alias, "reason": res.Reason}).Info("model registered")
	return res, nil
}

// productionModel loads production's model file. A file missing or corrupt
// is returned as unloadable: no API can serve it either. A file of a newer
// format (a newer build wrote it, during a rolling deploy) and a store that
// does not answer are errors worth retrying.
func (a *Activities) productionModel(ctx context.Context, prod registry.Version) (m *model.Model, unloadable, err error) {
	data, err := a.Store.Get(ctx, prod.ArtifactKey)
	switch {
	case errors.Is(err, artifact.ErrNotFound), errors.Is(err, artifact.ErrCorrupt):
		return nil, err, nil
	case err != nil:
		return nil, nil, fmt.Errorf("quality gate: load production model v%d: %w", prod.Version, err)
	}
	m, err = model.Decode(data)
	switch {
	case errors.Is(err, model.ErrVersion):
		return nil, nil, fmt.Errorf("quality gate: production model v%d was written by a newer build (%w); a worker of that build can score it", prod.Version, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", prod.ArtifactKey, err), nil
	}
	return m, nil, nil
}

// replaceUnloadable decides on a candidate when production's model file
// (prod's) is missing or corrupt (why): failing every run until someone
// repaired the file by hand would be worse, so a candidate that clears the
// floor replaces it, on the gate's other terms: enough holdout rows, and
// the labels production's evaluation report shows. The move is on
// condition that production still points at that version.
func (a *Activities) replaceUnloadable(ctx context.Context, in RegisterInput, prod registry.Version, why error) (RegisterResult, error) {
	res := RegisterResult{BaselineVersion: prod.Version, Alias: "challenger"}
	broken := fmt.Sprintf("production v%d cannot be loaded (%v)", prod.Version, why)
	a.logger(ctx).WithFields(map[string]any{"model": in.ModelName, "production_version": prod.Version, "error": why.Error()}).
		Warn("quality gate: production's model file cannot be loaded")
	holdout, err := a.snapshot(ctx, in.HoldoutKey)
	if err != nil {
		return res, err
	}
	if len(holdout) < MinGateRows {
		res.Reason = fmt.Sprintf("%s, but a weighted F1 of %.4f on %d holdout rows proves little (the gate wants %d); promote it by hand if wanted",
			broken, in.Evaluation.WeightedF1, len(holdout), MinGateRows)
		return res, nil
	}
	cand, err := a.loadModel(ctx, in.Model.Key)
	if err != nil {
		return res, err
	}
	if labels, ok := a.reportLabels(ctx, prod.ReportKey); ok {
		if why := missingLabels(labels, cand, prod.Version); why != "" {
			res.Reason = broken + ", but " + why + "; promote it by hand if that is intended"
			return res, nil
		}
	}
	res.Promoted, res.Alias = true, "production"
	res.Reason = fmt.Sprintf("%s; weighted F1 %.4f clears the floor %.4f and replaces it", broken, in.Evaluation.WeightedF1, in.Gate.Floor)
	return res, nil
}

// reportLabels returns the labels of an evaluation report, and false when
// it cannot be read.
func (a *Activities) reportLabels(ctx context.Context, key string) ([]string, bool) {
	if key == "" {
		return nil, false
	}
	data, err := a.Store.Get(ctx, key)
	if err != nil {
		return nil, false
	}
	var rep Report
	if json.Unmarshal(data, &rep) != nil {
		return nil, false
	}
	return rep.Metrics.Labels, len(rep.Metrics.Labels) > 0
}

// missingLabels says which of production's labels (of version prod) the
// candidate does not know, "" when it knows them all.
func missingLabels(prodLabels []string, cand *model.Model, prod int) string {
	known := make(map[string]bool, len(cand.Labels))
	for _, l := range cand.Labels {
		known[l.Code] = true
	}
	var missing []string
	for _, l := range prodLabels {
		if !known[l] {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	shown := missing[:min(len(missing), 5)]
	more := ""
	if len(missing) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
	}
	return fmt.Sprintf("it does not know %d of production v%d's %d labels (%s%s)", len(missing), prod, len(prodLabels), strings.Join(shown, ", "), more)
}

// identicalVersion returns the version of in.ModelName, registered by
// another run, whose model file is byte for byte the candidate, or 0. A
// retrain on unchanged data gives such a file, every night. When this run
// registered a version itself (an earlier attempt did), it is 0: that
// version is found again by CreateVersion. A version whose run failed or
// was canceled between registering and publishing is not reused.
func (a *Activities) identicalVersion(ctx context.Context, in RegisterInput) (int, error) {
	versions, err := a.Registry.Versions(ctx, in.ModelName)
	if errors.Is(err, registry.ErrNotFound) {
		return 0, nil // the model's first version
	}
	if err != nil {
		return 0, err
	}
	run := activity.GetInfo(ctx).WorkflowExecution
	same := 0
	for _, v := range versions {
		if v.WorkflowID == run.ID && v.WorkflowRunID == run.RunID {
			return 0, nil
		}
		if same != 0 || v.ArtifactDigest != in.Model.Digest {
			continue
		}
		if v.RunID != 0 {
			r, err := a.Registry.Run(ctx, v.RunID)
			if err != nil && !errors.Is(err, registry.ErrNotFound) {
				return 0, err
			}
			if err == nil && (r.Status == registry.RunFailed || r.Status == registry.RunCanceled) {
				continue
			}
		}
		same = v.Version
	}
	return same, nil
}

// reusePrefix starts the reason of a run that added no version.
const reusePrefix = "no version added"

// reuseVersion ends a run whose model is version same already: no version
// is added, production moves to it if the gate says so, and no alias moves
// otherwise.
func (a *Activities) reuseVersion(ctx context.Context, in RegisterInput, res RegisterResult, same int) (RegisterResult, error) {
	res.Version = same
	if !strings.HasPrefix(res.Reason, reusePrefix) { // a retry has it from the move's record
		res.Reason = fmt.Sprintf(reusePrefix+" (same model file as v%d); %s", same, res.Reason)
	}
	if res.Promoted {
		_, err := a.Registry.Publish(ctx, registry.Publication{
			RunID: in.RunID, Model: in.ModelName, Alias: res.Alias, Version: same, Expected: &res.BaselineVersion,
			Reason: res.Reason, Actor: runActor(ctx),
		})
		if err != nil {
			return RegisterResult{}, classify("register", err)
		}
	} else {
		res.Alias = ""
		if err := a.Registry.FinishRun(ctx, in.RunID, registry.RunSucceeded, ""); err != nil {
			return RegisterResult{}, classify("register", err)
		}
	}
	a.logger(ctx).WithFields(map[string]any{"model": in.ModelName, "version": same, "alias": res.Alias, "reason": res.Reason}).Info("model unchanged")
	return res, nil
}

// registered returns what an earlier attempt of Register recorded when it
// finished the run (done), as Temporal retries an activity whose
// completion was lost: the version, and the alias move this run made, if
// any, found by its actor, which names the workflow execution. It neither
// gates nor publishes again: production may have moved since, and a retry
// must not move it back.
func (a *Activities) registered(ctx context.Context, in RegisterInput) (res RegisterResult, done bool, err error) {
	if in.RunID == 0 {
		return res, false, nil
	}
	r, err := a.Registry.Run(ctx, in.RunID)
	if err != nil {
		return res, false, classify("register", err)
	}
	if r.Status != registry.RunSucceeded {
		return res, false, nil
	}
	versions, err := a.Registry.Versions(ctx, in.ModelName)
	if err != nil {
		return res, false, classify("register", err)
	}
	wf := activity.GetInfo(ctx).WorkflowExecution
	for _, v := range versions {
		switch {
		case v.WorkflowID == wf.ID && v.WorkflowRunID == wf.RunID:
			res.Version = v.Version
		case res.Version == 0 && v.ArtifactDigest == in.Model.Digest:
			res.Version = v.Version // reused, unless its own turns up
		}
	}
	moves, err := a.Registry.AliasHistory(ctx, in.ModelName) // newest first
	if err != nil {
		return res, false, classify("register", err)
	}
	res.Reason = fmt.Sprintf("%s (same model file as v%d); the run had already finished", reusePrefix, res.Version)
	if i := slices.IndexFunc(moves, func(mv registry.AliasMove) bool { return mv.Actor == runActor(ctx) }); i >= 0 {
		mv := moves[i]
		res.Version, res.Alias, res.Reason = mv.To, mv.Alias, mv.Reason
		if mv.Alias == registry.AliasProduction {
			res.Promoted, res.BaselineVersion = true, mv.From
		}
	}
	return res, true, nil
}

// runActor is the actor of the alias moves of the activity's pipeline run.
func runActor(ctx context.Context) string {
	wf := activity.GetInfo(ctx).WorkflowExecution
	return workflowActor + wf.ID + "/" + wf.RunID
}

// MinGateRows is the fewest holdout rows the gate promotes on: a score on
// fewer says too little (one row is 5 points of accuracy at 20), so such a
// model becomes challenger, even the first.
const MinGateRows = 20

// gate decides where the candidate goes; Version is left for Register.
func (a *Activities) gate(ctx context.Context, in RegisterInput) (RegisterResult, error) {
	var res RegisterResult
	run := activity.GetInfo(ctx).WorkflowExecution
	prod, err := a.Registry.Alias(ctx, in.ModelName, "production")
	switch {
	case errors.Is(err, registry.ErrNotFound):
		holdout, err := a.snapshot(ctx, in.HoldoutKey)
		if err != nil {
			return res, err
		}
		if len(holdout) < MinGateRows {
			res.Alias = "challenger"
			res.Reason = fmt.Sprintf("first model, but a weighted F1 of %.4f on %d holdout rows proves little (the gate wants %d); promote it by hand if wanted",
				in.Evaluation.WeightedF1, len(holdout), MinGateRows)
			return res, nil
		}
		res.Promoted, res.Alias = true, "production"
		res.Reason = fmt.Sprintf("first model: weighted F1 %.4f clears the floor %.4f", in.Evaluation.WeightedF1, in.Gate.Floor)
		return res, nil
	case err != nil:
		return res, err
	}
	if prod.WorkflowID == run.ID && prod.WorkflowRunID == run.RunID {
		// A retry after an attempt from before runs were finished with
		// their move (see registered); the conditional move is a no-op.
		res.Promoted, res.Alias, res.Reason = true, "production", "already production"
		return res, nil
	}
	if why, err := a.demotedByHand(ctx, in); err != nil {
		return res, err
	} else if why != "" {
		res.BaselineVersion, res.Alias, res.Reason = prod.Version, "challenger", why
		return res, nil
	}
	// Score production on this run's holdout: metrics from another holdout
	// are not comparable.
	m, unloadable, err := a.productionModel(ctx, prod)
	if err != nil {
		return res, err
	}
	if unloadable != nil {
		return a.replaceUnloadable(ctx, in, prod, unloadable)
	}
	holdout, err := a.snapshot(ctx, in.HoldoutKey)
	if err != nil {
		return res, err
	}
	rows, note, err := a.unseenBy(ctx, "production's", prod.DatasetDigest, in.DatasetDigest, holdout)
	if err != nil {
		return res, err
	}
	res.BaselineVersion, res.ComparedRows = prod.Version, len(rows)
	if len(rows) == 0 {
		res.Alias = "challenger"
		res.Reason = fmt.Sprintf("production v%d was trained on every holdout row, so the two cannot be compared; promote by hand if wanted", prod.Version)
		return res, nil
	}
	if len(rows) < MinGateRows {
		res.Alias = "challenger"
		res.Reason = fmt.Sprintf("only %d holdout rows are new to production v%d, too few to compare the two (the gate wants %d); promote by hand if wanted",
			len(rows), prod.Version, MinGateRows)
		return res, nil
	}
	cand, err := a.loadModel(ctx, in.Model.Key)
	if err != nil {
		return res, err
	}
	candidateF1 := in.Evaluation.WeightedF1
	if len(rows) < len(holdout) {
		// The candidate's figure must come from the same rows.
		rep, err := classifier.Evaluate(cand, rows)
		if err != nil {
			return res, fmt.Errorf("evaluate the candidate: %w", err)
		}
		candidateF1 = rep.WeightedF1
	}
	base, err := classifier.Evaluate(m, rows)
	if err != nil {
		return res, fmt.Errorf("evaluate production model v%d: %w", prod.Version, err)
	}
	res.CandidateF1, res.BaselineF1 = candidateF1, base.WeightedF1
	delta := candidateF1 - base.WeightedF1
	if delta > in.Gate.Margin {
		res.Promoted, res.Alias = true, "production"
		res.Reason = fmt.Sprintf("weighted F1 %.4f beats production v%d (%.4f) by %.4f > margin %.4f",
			candidateF1, prod.Version, base.WeightedF1, delta, in.Gate.Margin)
		why, err := a.regression(ctx, in, prod, m, cand)
		if err != nil {
			return res, err
		}
		if why != "" {
			res.Promoted, res.Alias = false, "challenger"
			res.Reason += ", but " + why + "; promote it by hand if that is intended"
		}
	} else {
		res.Alias = "challenger"
		res.Reason = fmt.Sprintf("weighted F1 %.4f vs production v%d (%.4f): gain %.4f not above margin %.4f",
			candidateF1, prod.Version, base.WeightedF1, delta, in.Gate.Margin)
	}
	res.Reason += note
	return res, nil
}

// maxHoldoutDrop is how much lower than production's a candidate's
// weighted F1 on production's own holdout may be for it to be promoted
// automatically. It catches data that is not what production learnt from
// (another catalogue trained under the model's name, synthetic demo data),
// not drift: a gap this wide is far beyond the noise of a few hundred rows.
const maxHoldoutDrop = 0.02

// regression reports why a candidate that beats production on its own
// holdout must not replace it automatically all the same, or "": it does
// not know every label production knows (an export that lost categories),
// or it does far worse on the holdout production was evaluated on.
func (a *Activities) regression(ctx context.Context, in RegisterInput, prod registry.Version, prodModel, cand *model.Model) (string, error) {
	prodLabels := make([]string, len(prodModel.Labels))
	for i, l := range prodModel.Labels {
		prodLabels[i] = l.Code
	}
	if why := missingLabels(prodLabels, cand, prod.Version); why != "" {
		return why, nil
	}
	if prod.DatasetDigest == in.DatasetDigest {
		return "", nil // production's holdout is the one just compared on
	}
	ds, err := a.Registry.Dataset(ctx, prod.DatasetDigest)
	if errors.Is(err, registry.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	old, ok, err := a.snapshotIfKept(ctx, "production's holdout", ds.HoldoutKey)
	if err != nil || !ok {
		return "", err // gone: nothing left to check against
	}
	rows, _, err := a.unseenBy(ctx, "the candidate's", in.DatasetDigest, prod.DatasetDigest, old)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	c, err := classifier.Evaluate(cand, rows)
	if err != nil {
		return "", fmt.Errorf("evaluate the candidate on production's holdout: %w", err)
	}
	p, err := classifier.Evaluate(prodModel, rows)
	if err != nil {
		return "", fmt.Errorf("evaluate production model v%d on its holdout: %w", prod.Version, err)
	}
	if c.WeightedF1 < p.WeightedF1-maxHoldoutDrop {
		return fmt.Sprintf("on the %d rows of production v%d's own holdout it scores %.4f against production's %.4f, more than %.2f lower: the data may not be what production learnt from",
			len(rows), prod.Version, c.WeightedF1, p.WeightedF1, maxHoldoutDrop), nil
	}
	return "", nil
}

// workflowActor starts the actor of the alias moves the pipeline makes;
// any other actor is a person (the starter, the API).
const workflowActor = "workflow "

// demotedByHand says why the candidate must not replace production
// automatically when its model file is identical to a version a person
// took production away from (a rollback, say), and "" otherwise. Training
// is deterministic, so the next scheduled run on unchanged data would
// otherwise bring a rolled-back model straight back. The latest move by a
// person that involves such a version decides: away from it blocks, onto
// it (promoted again by hand) does not.
func (a *Activities) demotedByHand(ctx context.Context, in RegisterInput) (string, error) {
	versions, err := a.Registry.Versions(ctx, in.ModelName)
	if err != nil {
		return "", err
	}
	same := map[int]bool{}
	for _, v := range versions {
		if v.ArtifactDigest == in.Model.Digest {
			same[v.Version] = true
		}
	}
	if len(same) == 0 {
		return "", nil
	}
	moves, err := a.Registry.AliasHistory(ctx, in.ModelName) // newest first
	if err != nil {
		return "", err
	}
	for _, mv := range moves {
		if mv.Alias != registry.AliasProduction || strings.HasPrefix(mv.Actor, workflowActor) {
			continue
		}
		switch {
		case same[mv.To]:
			return "", nil
		case same[mv.From]:
			return fmt.Sprintf("the model file is identical to v%d, which %s moved production away from on %s (%q); promote it by hand if wanted",
				mv.From, mv.Actor, mv.MovedAt.UTC().Format(time.DateOnly), mv.Reason), nil
		}
	}
	return "", nil
}

// unseenBy returns the holdout rows whose text production was not trained
// on, and a note for the gate's reason when that is not all of them.
// Scoring production on its own training rows would flatter it: that
// happens when the data changed (rows relabelled or renumbered, the
// holdout fraction changed, a one-example label grew) since production's
// snapshot. A training snapshot that is gone from the bucket or the
// registry cannot be checked; the note says so.
func (a *Activities) unseenBy(ctx context.Context, whose, trainedOn, digest string, holdout []dataset.Example) ([]dataset.Example, string, error) {
	if trainedOn == digest {
		return holdout, "", nil // one snapshot: its parts are disjoint
	}
	ds, err := a.Registry.Dataset(ctx, trainedOn)
	if errors.Is(err, registry.ErrNotFound) {
		return holdout, fmt.Sprintf("; %s dataset %s is not in the registry, so rows it was trained on could not be left out", whose, trainedOn), nil
	}
	if err != nil {
		return nil, "", err
	}
	train, ok, err := a.snapshotIfKept(ctx, whose+" training snapshot", ds.TrainKey)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return holdout, fmt.Sprintf("; %s training snapshot %s is gone, so rows it was trained on could not be left out", whose, ds.TrainKey), nil
	}
	seen := make(map[[sha256.Size]byte]struct{}, len(train))
	for _, e := range train {
		seen[textKey(e)] = struct{}{}
	}
	var rows []dataset.Example
	for _, e := range holdout {
		if _, ok := seen[textKey(e)]; !ok {
			rows = append(rows, e)
		}
	}
	if len(rows) == len(holdout) {
		return holdout, "", nil
	}
	return rows, fmt.Sprintf(" (on the %d of %d holdout rows production was not trained on)", len(rows), len(holdout)), nil
}

// snapshotIfKept reads the dataset snapshot at key, the what of an earlier
// run; ok is false when it is gone from the bucket, which the callers
// tolerate.
func (a *Activities) snapshotIfKept(ctx context.Context, what, key string) (ex []dataset.Example, ok bool, err error) {
	data, err := a.Store.Get(ctx, key)
	if errors.Is(err, artifact.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify("read "+what, err)
	}
	ex, err = dataset.ReadSnapshot(bytes.NewReader(data))
	if err != nil {
		return nil, false, classify("read "+what+" "+key, err)
	}
	return ex, true, nil
}

// textKey identifies an example's text, whatever its ID and label.
func textKey(e dataset.Example) [sha256.Size]byte {
	return sha256.Sum256([]byte(e.Title + "\x00" + e.Body))
}

// FailRun marks the registry run failed, or canceled when in.Canceled,
// with the error that ended it. A run that Ingest recorded without the
// workflow learning its ID (Ingest was cancelled, or its completion lost,
// after recording it) is found by the workflow execution. A run that
// succeeded stays so: its model was published before the workflow failed,
// by a cancel that came as Register finished.
func (a *Activities) FailRun(ctx context.Context, in FailRunInput) error {
	msg := in.Error
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	id := in.RunID
	if id == 0 {
		wf := activity.GetInfo(ctx).WorkflowExecution
		run, err := a.Registry.RunOfWorkflow(ctx, wf.ID, wf.RunID)
		if errors.Is(err, registry.ErrNotFound) {
			return nil // the run failed before it was recorded
		}
		if err != nil {
			return fmt.Errorf("fail run: %w", err)
		}
		id = run.ID
	}
	status := registry.RunFailed
	if in.Canceled {
		status = registry.RunCanceled
	}
	err := a.Registry.FinishRun(ctx, id, status, msg)
	if errors.Is(err, registry.ErrRunFinished) {
		a.logger(ctx).WithError(err).Warn("the run is recorded as finished; its record stands")
		return nil
	}
	if err != nil {
		return classify("fail run", err)
	}
	return nil
}

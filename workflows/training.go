// Package workflows holds prodcat's Temporal workflows: the training
// pipeline, batch prediction and the retraining schedule specs. Workflow
// code is deterministic: it does no I/O and no CPU-heavy work, and only
// passes object keys and small summaries between activities.
package workflows

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/linear"
	"github.com/prodcat/prodcat/internal/registry"
)

// Defaults of TrainingParams.
const (
	DefaultHoldoutFraction   = 0.2
	DefaultMaxRejectFraction = 0.1
	DefaultPromotionMargin   = 0.002
	DefaultPromotionFloor    = 0.5
)

// ProgressQuery is the name of the query that returns a Progress.
const ProgressQuery = "progress"

// Search attributes set on pipeline runs; `go tool task up` registers them.
var (
	attrModelName     = temporal.NewSearchAttributeKeyKeyword("ModelName")
	attrDatasetDigest = temporal.NewSearchAttributeKeyKeyword("DatasetDigest")
	attrModelVersion  = temporal.NewSearchAttributeKeyInt64("ModelVersion")
	attrWeightedF1    = temporal.NewSearchAttributeKeyFloat64("WeightedF1")
	attrPromoted      = temporal.NewSearchAttributeKeyBool("Promoted")
)

// TrainingParams are the inputs of TrainingPipeline. Zero fields take the
// defaults above; a nil Params trains with classifier.DefaultParams.
type TrainingParams struct {
	ModelName         string             `json:"model_name"`
	Source            activities.Source  `json:"source"`
	Params            *classifier.Params `json:"params,omitempty"`
	HoldoutFraction   float64            `json:"holdout_fraction,omitempty"`
	MaxRejectFraction float64            `json:"max_reject_fraction,omitempty"`
	Gate              activities.Gate    `json:"gate"`
	// GateSet makes Gate count as given even when it is zero (a floor and
	// a margin of 0 promote any gain). Without it a zero Gate means the
	// defaults, as clients that predate GateSet send it.
	GateSet bool `json:"gate_set,omitempty"`
	// TrainingQueue is the task queue of the heavy activities (features,
	// train); empty means the workflow's own queue.
	TrainingQueue string `json:"training_queue,omitempty"`
}

// WithDefaults returns p with every zero field set to its default.
func (p TrainingParams) WithDefaults() TrainingParams {
	if p.Params == nil {
		d := classifier.DefaultParams()
		p.Params = &d
	}
	if p.HoldoutFraction == 0 {
		p.HoldoutFraction = DefaultHoldoutFraction
	}
	if p.MaxRejectFraction == 0 {
		p.MaxRejectFraction = DefaultMaxRejectFraction
	}
	if !p.GateSet && p.Gate == (activities.Gate{}) {
		p.Gate = activities.Gate{Margin: DefaultPromotionMargin, Floor: DefaultPromotionFloor}
	}
	return p
}

// WithoutDefaults leaves out of p the parameters equal to the defaults,
// which WithDefaults fills in again: a schedule stores them so, and its
// runs take the defaults of the code that runs them.
func (p TrainingParams) WithoutDefaults() TrainingParams {
	if p.Params != nil && *p.Params == classifier.DefaultParams() {
		p.Params = nil
	}
	if p.HoldoutFraction == DefaultHoldoutFraction {
		p.HoldoutFraction = 0
	}
	if p.MaxRejectFraction == DefaultMaxRejectFraction {
		p.MaxRejectFraction = 0
	}
	return p
}

// Validate reports whether p can start a training.
func (p TrainingParams) Validate() error {
	if p.ModelName == "" {
		return fmt.Errorf("model_name is empty")
	}
	if err := registry.CheckModelName(p.ModelName); err != nil {
		return err
	}
	if err := p.Source.Validate(); err != nil {
		return err
	}
	if p.HoldoutFraction <= 0 || p.HoldoutFraction >= 1 {
		return fmt.Errorf("holdout_fraction %v: want a value in (0, 1)", p.HoldoutFraction)
	}
	if p.MaxRejectFraction <= 0 || p.MaxRejectFraction > 1 {
		// 0 would read as "unset" and become the default.
		return fmt.Errorf("max_reject_fraction %v: want a value in (0, 1]; 1 accepts any share of rejected rows", p.MaxRejectFraction)
	}
	if p.Gate.Floor < 0 || p.Gate.Floor > 1 || p.Gate.Margin < 0 {
		return fmt.Errorf("gate: floor %v and margin %v: want a floor in [0, 1] and a margin of 0 or more", p.Gate.Floor, p.Gate.Margin)
	}
	if p.Params != nil {
		return p.Params.Validate()
	}
	return nil
}

// TrainingResult is what TrainingPipeline returns.
type TrainingResult struct {
	ModelName     string                    `json:"model_name"`
	Version       int                       `json:"version"`
	Promoted      bool                      `json:"promoted"`
	Alias         string                    `json:"alias"`
	Reason        string                    `json:"reason"`
	DatasetDigest string                    `json:"dataset_digest"`
	ModelKey      string                    `json:"model_key"`
	Evaluation    activities.EvaluateResult `json:"evaluation"`
	Dataset       activities.IngestResult   `json:"dataset"`
	Gate          activities.RegisterResult `json:"gate"`
	Stages        []StageTime               `json:"stages"`
}

// StageTime is how long one stage took, from scheduling to completion.
type StageTime struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
}

// Progress is the answer of the progress query.
type Progress struct {
	Stage   string `json:"stage"`
	Percent int    `json:"percent"`
	// Done lists the finished stages in order.
	Done []string `json:"done"`
	// WaitingForDataSlot says the stage under way waits for one of its
	// worker's data slots (PRODCAT_DATA_ACTIVITIES). Only QueryProgress
	// sets it, from the stage's heartbeat.
	WaitingForDataSlot bool `json:"waiting_for_data_slot,omitempty"`
}

// Pipeline stages in order, with the share of the run each one usually takes.
var stages = []struct {
	name  string
	share int
}{{"ingest", 10}, {"features", 20}, {"train", 50}, {"evaluate", 10}, {"register", 10}}

// StageShare returns the percentage of a run that the named stage stands
// for in Progress, or 0 for an unknown stage. The one stage of a batch
// prediction or a comparison is the whole run.
func StageShare(name string) int {
	if name == activities.PredictStage || name == activities.CompareStage {
		return 100
	}
	for _, s := range stages {
		if s.name == name {
			return s.share
		}
	}
	return 0
}

// Retry bounds of the pipeline's activities, as attempts a minute apart
// once backed off: a registry or bucket that is down for minutes (a
// restart, a failover) delays a run instead of failing it; bad data, bad
// parameters and a missed quality gate fail at once. There is no
// ScheduleToCloseTimeout: it would count the time a stage waits for a
// worker too, and a run queued behind others must not fail for it.
const (
	lightStageAttempts = 60   // about 55 minutes of retrying
	heavyStageAttempts = 30   // about 25 minutes; each attempt trains from scratch
	failRunAttempts    = 1500 // about a day: a run must not stay "running"
)

// stageRetry is the retry policy of the pipeline's activities: backing off
// to a minute between attempts, at most maxAttempts of them.
func stageRetry(maxAttempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		MaximumAttempts:        maxAttempts,
		NonRetryableErrorTypes: []string{activities.ErrBadData, activities.ErrBadParams, activities.ErrQualityGate, activities.ErrNoModel, activities.ErrFeaturesGone},
	}
}

// recordDefaultParams is the change ID of recording the default parameters
// in the history (workflow.GetVersion): histories from before it replay
// without the record.
const recordDefaultParams = "record-default-params"

// recordEveryFailureChange is the change ID of recording a failed Ingest
// and of waiting for a cancelled stage to stop before recording the
// failure.
const recordEveryFailureChange = "record-every-failure"

// strictSolverParamsChange is the change ID of the solver checks added
// with it: a bias from -1000 to 1000, and no balanced class weights with
// crammer-singer, which ignored them. A run that started before them got
// past the checks it had, and its replay must too.
const strictSolverParamsChange = "strict-solver-params"

// paramsCheckedByActivitiesChange is the change ID of leaving the
// classifier's parameters to the activities (Ingest checks them first):
// checks in the ML packages may grow stricter between deploys, and a
// workflow that ran them would fail the replay of a run that got past
// older ones. The pipeline's own settings are still checked here.
const paramsCheckedByActivitiesChange = "params-checked-by-activities"

// scoreBeforeRegisterChange is the change ID of setting the WeightedF1
// search attribute once Evaluate has scored the model, so that a run the
// quality gate fails can be found by its score too.
const scoreBeforeRegisterChange = "score-before-register"

// withoutStrictSolverChecks returns p as the checks before
// strictSolverParamsChange saw it, for validation only.
func (p TrainingParams) withoutStrictSolverChecks() TrainingParams {
	if p.Params == nil {
		return p
	}
	cp := *p.Params
	if cp.Solver.Multiclass == linear.CrammerSinger {
		cp.Solver.Balanced = false
	}
	if !math.IsNaN(cp.Solver.Bias) && !math.IsInf(cp.Solver.Bias, 0) {
		cp.Solver.Bias = max(-1, min(cp.Solver.Bias, 1))
	}
	p.Params = &cp
	return p
}

// TrainingPipeline trains, evaluates and registers a model:
// ingest → features → train → evaluate → register, after resolving the
// latest version of a data feed when it is given one. A failure in any stage
// is recorded on the registry run and returned, so the run shows as failed,
// or as canceled when someone cancelled it.
func TrainingPipeline(ctx workflow.Context, in TrainingParams) (TrainingResult, error) {
	if in.Params == nil && workflow.GetVersion(ctx, recordDefaultParams, workflow.DefaultVersion, 1) == 1 {
		// The default parameters live in the ML code, which changes
		// between deploys: recorded in the history, a run replayed by a
		// newer worker keeps training with the ones it started with.
		var d classifier.Params
		if err := workflow.SideEffect(ctx, func(workflow.Context) any { return classifier.DefaultParams() }).Get(&d); err != nil {
			return TrainingResult{}, err
		}
		in.Params = &d
	}
	p := in.WithDefaults()
	log := workflow.GetLogger(ctx)
	progress := Progress{Stage: "starting", Done: []string{}}
	if err := workflow.SetQueryHandlerWithOptions(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }, workflow.QueryHandlerOptions{
		Description: "The stage under way (starting, resolve feed, ingest, features, train, evaluate, register; done, failed or canceled at the end), " +
			"the finished stages, and the percentage of the run they stand for. The API and starter watch refine the percentage with the stage's heartbeat.",
	}); err != nil {
		return TrainingResult{}, err
	}
	check := p
	if workflow.GetVersion(ctx, strictSolverParamsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		check = p.withoutStrictSolverChecks()
	}
	if workflow.GetVersion(ctx, paramsCheckedByActivitiesChange, workflow.DefaultVersion, 1) == 1 {
		check.Params = nil
	}
	if err := check.Validate(); err != nil {
		return TrainingResult{}, temporal.NewNonRetryableApplicationError("invalid training parameters: "+err.Error(), activities.ErrBadParams, nil)
	}
	trainingQueue := p.TrainingQueue
	if trainingQueue == "" {
		trainingQueue = workflow.GetInfo(ctx).TaskQueueName
	}

	// A cancelled run waits for the stage under way to stop before it
	// records its end, so the record cannot race the stage's own writes: a
	// Register that published meanwhile leaves a succeeded run, and one
	// that did not leaves a canceled run (with, if it stopped between
	// registering and publishing, a version no alias points at and no later
	// run reuses). A failed Ingest is recorded too, since it may have
	// recorded the run before it failed.
	recordEveryFailure := workflow.GetVersion(ctx, recordEveryFailureChange, workflow.DefaultVersion, 1) == 1
	light := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         stageRetry(lightStageAttempts),
		WaitForCancellation: recordEveryFailure,
	})
	heavy := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           trainingQueue,
		StartToCloseTimeout: 2 * time.Hour,
		// A dead worker is noticed within this and the stage retried on
		// another one. Heavy stages beat every second and the worker sends
		// them every HeartbeatSendInterval, but a worker whose cores are all
		// busy training needs room to be late.
		HeartbeatTimeout: 20 * time.Second,
		// Bounded, since every attempt trains from scratch and a worker
		// killed for memory would be killed again.
		RetryPolicy:         stageRetry(heavyStageAttempts),
		WaitForCancellation: recordEveryFailure,
	})
	// record is for FailRun, which runs on a disconnected context so that
	// a cancelled run is recorded too.
	record := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// A run left "running" would wait for the worker's reconciler,
		// so outlast any outage of the registry.
		RetryPolicy: stageRetry(failRunAttempts),
	})

	var a *activities.Activities
	res := TrainingResult{ModelName: p.ModelName}
	stage := func(i int, actx workflow.Context, fn, arg, out any) error {
		s := stages[i]
		progress.Stage = s.name
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("stage %d of %d: %s", i+1, len(stages), s.name))
		start := workflow.Now(ctx)
		err := workflow.ExecuteActivity(actx, fn, arg).Get(ctx, out)
		if err != nil {
			// Returned as is: the activity error names the stage and keeps
			// the application error type (BadData, QualityGate) for callers.
			return err
		}
		res.Stages = append(res.Stages, StageTime{Stage: s.name, Seconds: workflow.Now(ctx).Sub(start).Seconds()})
		progress.Done = append(progress.Done, s.name)
		progress.Percent += s.share
		return nil
	}

	ingest := activities.IngestInput{
		ModelName: p.ModelName, Source: p.Source, HoldoutFraction: p.HoldoutFraction,
		MaxRejectFraction: p.MaxRejectFraction, Params: *p.Params,
	}
	if p.Source.Feed != "" {
		// Once, before Ingest, so that Ingest's retries read the version
		// resolved here even if a newer one is published meanwhile.
		progress.Stage = "resolve feed"
		var rf activities.ResolveFeedResult
		if err := workflow.ExecuteActivity(light, a.ResolveFeed, p.Source.Feed).Get(ctx, &rf); err != nil {
			// No run is recorded before Ingest: nothing to mark failed.
			if ctx.Err() != nil || temporal.IsCanceledError(err) {
				progress.Stage = "canceled"
				workflow.SetCurrentDetails(ctx, "canceled during resolve feed")
				return res, err
			}
			progress.Stage = "failed"
			workflow.SetCurrentDetails(ctx, "failed at resolve feed: "+failureReason(err))
			return res, stageFailure("resolve feed", failureReason(err), err)
		}
		ingest.Source, ingest.Feed, ingest.FeedVersion = rf.Source, rf.Feed, rf.Version
	}
	var ing activities.IngestResult
	// fail records the failure on the registry run, then fails the
	// workflow with the original error: a failed run never looks
	// successful. Before Ingest returns, the run's ID is unknown and
	// FailRun finds it by the workflow execution.
	fail := func(err error) (TrainingResult, error) {
		dctx, _ := workflow.NewDisconnectedContext(record)
		canceled := ctx.Err() != nil || temporal.IsCanceledError(err)
		during := progress.Stage
		reason := failureReason(err)
		if canceled {
			reason = "canceled" // not the SDK's activity error around it
			progress.Stage = "canceled"
			workflow.SetCurrentDetails(ctx, "canceled during "+during)
		} else {
			progress.Stage = "failed"
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("failed at %s: %s", during, reason))
		}
		if ferr := workflow.ExecuteActivity(dctx, a.FailRun, activities.FailRunInput{RunID: ing.RunID, Error: during + ": " + reason, Canceled: canceled}).Get(dctx, nil); ferr != nil {
			log.Error("recording the failed run", "Error", ferr)
		}
		if canceled {
			return res, err // a CanceledError, so the run ends canceled
		}
		return res, stageFailure(during, reason, err)
	}
	if err := stage(0, light, a.Ingest, ingest, &ing); err != nil {
		if recordEveryFailure {
			return fail(err)
		}
		return res, err
	}
	res.Dataset, res.DatasetDigest = ing, ing.DatasetDigest
	if err := workflow.UpsertTypedSearchAttributes(ctx, attrModelName.ValueSet(p.ModelName), attrDatasetDigest.ValueSet(ing.DatasetDigest)); err != nil {
		log.Warn("search attributes not updated", "Error", err)
	}

	err := func() error {
		var feat activities.FeaturesResult
		if err := stage(1, heavy, a.Features, activities.FeaturesInput{TrainKey: ing.TrainKey, Params: *p.Params}, &feat); err != nil {
			return err
		}
		var tr activities.TrainResult
		if err := stage(2, heavy, a.Train, activities.TrainInput{
			TrainKey: ing.TrainKey, Features: feat, Params: *p.Params, DatasetDigest: ing.DatasetDigest, Rakuten: new(ingest.Source.XKey != ""),
		}, &tr); err != nil {
			return err
		}
		res.ModelKey = tr.Model.Key
		var ev activities.EvaluateResult
		if err := stage(3, light, a.Evaluate, activities.EvaluateInput{RunID: ing.RunID, ModelKey: tr.Model.Key, HoldoutKey: ing.HoldoutKey}, &ev); err != nil {
			return err
		}
		res.Evaluation = ev
		if workflow.GetVersion(ctx, scoreBeforeRegisterChange, workflow.DefaultVersion, 1) == 1 {
			if err := workflow.UpsertTypedSearchAttributes(ctx, attrWeightedF1.ValueSet(ev.WeightedF1)); err != nil {
				log.Warn("search attributes not updated", "Error", err)
			}
		}
		var reg activities.RegisterResult
		if err := stage(4, light, a.Register, activities.RegisterInput{
			ModelName: p.ModelName, RunID: ing.RunID, DatasetDigest: ing.DatasetDigest, HoldoutKey: ing.HoldoutKey,
			Params: *p.Params, Model: tr.Model, Evaluation: ev, Gate: p.Gate, Source: &ingest.Source,
		}, &reg); err != nil {
			return err
		}
		res.Gate, res.Version, res.Promoted, res.Alias, res.Reason = reg, reg.Version, reg.Promoted, reg.Alias, reg.Reason
		return nil
	}()
	if err != nil {
		return fail(err)
	}
	progress.Stage, progress.Percent = "done", 100
	if res.Alias != "" {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s v%d: weighted F1 %.4f, now %s (%s)", p.ModelName, res.Version, res.Evaluation.WeightedF1, res.Alias, res.Reason))
	} else {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s v%d: weighted F1 %.4f; %s", p.ModelName, res.Version, res.Evaluation.WeightedF1, res.Reason))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		attrModelVersion.ValueSet(int64(res.Version)), attrWeightedF1.ValueSet(res.Evaluation.WeightedF1), attrPromoted.ValueSet(res.Promoted)); err != nil {
		log.Warn("search attributes not updated", "Error", err)
	}
	return res, nil
}

// failureReason returns what a stage's failure says went wrong: the
// activity's own message, without the activity error's coordinates.
func failureReason(err error) string {
	var (
		app     *temporal.ApplicationError
		timeout *temporal.TimeoutError
	)
	switch {
	case errors.As(err, &app):
		return app.Message()
	case errors.As(err, &timeout):
		return fmt.Sprintf("timed out (%s)", timeout.TimeoutType())
	}
	return err.Error()
}

// stageFailure is the error a failed run ends with: the stage's reason as
// its message, so that the Temporal UI and a schedule's pause note say it
// instead of "activity error", with the stage's error type (BadData,
// QualityGate) and the activity error as its cause. A failure that is not
// the activity's own (a timeout) names the stage, which it does not.
func stageFailure(stage, reason string, err error) error {
	if app := (*temporal.ApplicationError)(nil); errors.As(err, &app) && app.Type() != "" {
		return temporal.NewNonRetryableApplicationError(reason, app.Type(), err)
	}
	return temporal.NewNonRetryableApplicationError(stage+": "+reason, "StageFailed", err)
}

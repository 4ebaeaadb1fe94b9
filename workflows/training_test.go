package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/classifier"
	"github.com/prodcat/prodcat/internal/linear"
)

type pipelineSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
	a   *activities.Activities
}

func TestPipeline(t *testing.T) { suite.Run(t, new(pipelineSuite)) }

func (s *pipelineSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(TrainingPipeline)
	s.a = &activities.Activities{}
	s.env.RegisterActivity(s.a)
}

func (s *pipelineSuite) AfterTest(string, string) { s.env.AssertExpectations(s.T()) }

func params() TrainingParams {
	return TrainingParams{ModelName: "prdtypecode", Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}}
}

var (
	ingested = activities.IngestResult{DatasetDigest: "d1", TrainKey: "datasets/t.jsonl", HoldoutKey: "datasets/h.jsonl", Rows: 100, Classes: 3, RunID: 7}
	featured = activities.FeaturesResult{VectorizerKey: "features/v", MatrixKey: "features/m", Features: 1000, Rows: 80}
	trained  = activities.TrainResult{Model: artifactRef("models/m.bin")}
	scored   = activities.EvaluateResult{ReportKey: "reports/r.json", WeightedF1: 0.8, MacroF1: 0.7, Accuracy: 0.81}
)

func (s *pipelineSuite) mockUpToEvaluate() {
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, activities.FeaturesInput{TrainKey: ingested.TrainKey, Params: *params().WithDefaults().Params}).Return(featured, nil).Once()
	// The challenge's files carry prdtypecodes, which the model names.
	s.env.OnActivity(s.a.Train, mock.Anything, mock.MatchedBy(func(in activities.TrainInput) bool { return in.Rakuten != nil && *in.Rakuten })).Return(trained, nil).Once()
	s.env.OnActivity(s.a.Evaluate, mock.Anything, activities.EvaluateInput{RunID: 7, ModelKey: "models/m.bin", HoldoutKey: ingested.HoldoutKey}).Return(scored, nil).Once()
}

// A generic CSV's labels are not named from the Rakuten taxonomy.
func (s *pipelineSuite) TestGenericCSVIsNotNamedFromTheTaxonomy() {
	p := params()
	p.Source = activities.Source{CSVKey: "raw/c.csv", TextCols: []string{"title"}, LabelCol: "category"}
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).Return(featured, nil).Once()
	s.env.OnActivity(s.a.Train, mock.Anything, mock.MatchedBy(func(in activities.TrainInput) bool { return in.Rakuten != nil && !*in.Rakuten })).
		Return(activities.TrainResult{}, temporal.NewNonRetryableApplicationError("stop here", activities.ErrBadData, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.Anything).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	s.Require().ErrorContains(s.env.GetWorkflowError(), "stop here")
}

func (s *pipelineSuite) TestPromotes() {
	s.mockUpToEvaluate()
	s.env.OnActivity(s.a.Register, mock.Anything, mock.MatchedBy(func(in activities.RegisterInput) bool {
		return in.RunID == 7 && in.DatasetDigest == "d1" && in.Model.Key == "models/m.bin" && in.Evaluation == scored &&
			in.Gate == activities.Gate{Margin: DefaultPromotionMargin, Floor: DefaultPromotionFloor}
	})).Return(activities.RegisterResult{Version: 3, Promoted: true, Alias: "production", Reason: "beats v2"}, nil).Once()

	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res TrainingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(3, res.Version)
	s.True(res.Promoted)
	s.Equal("production", res.Alias)
	s.Equal("d1", res.DatasetDigest)
	s.Equal(0.8, res.Evaluation.WeightedF1)
	s.Len(res.Stages, 5)

	v, err := s.env.QueryWorkflow(ProgressQuery)
	s.Require().NoError(err)
	var p Progress
	s.Require().NoError(v.Get(&p))
	s.Equal(Progress{Stage: "done", Percent: 100, Done: []string{"ingest", "features", "train", "evaluate", "register"}}, p)
}

// Before any stage ends, the finished stages are an empty list, as the
// API documents them, not null.
func (s *pipelineSuite) TestProgressListsNoStageBeforeTheFirstEnds() {
	var raw map[string]any
	var qerr error
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(func(context.Context, activities.IngestInput) (activities.IngestResult, error) {
		v, err := s.env.QueryWorkflow(ProgressQuery)
		if qerr = err; err == nil {
			qerr = v.Get(&raw)
		}
		return activities.IngestResult{}, temporal.NewNonRetryableApplicationError("stop", activities.ErrBadData, nil)
	}).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.Anything).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().Error(s.env.GetWorkflowError())
	s.Require().NoError(qerr)
	s.Equal([]any{}, raw["done"])
}

func (s *pipelineSuite) TestChallengerWhenNotBetter() {
	s.mockUpToEvaluate()
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).
		Return(activities.RegisterResult{Version: 4, Alias: "challenger", Reason: "gain under margin", BaselineVersion: 3, BaselineF1: 0.81}, nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().NoError(s.env.GetWorkflowError())
	var res TrainingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.False(res.Promoted)
	s.Equal("challenger", res.Alias)
	s.Equal(3, res.Gate.BaselineVersion)
}

func (s *pipelineSuite) TestRetriesTransientFailure() {
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).Return(activities.FeaturesResult{}, errors.New("connection reset by peer")).Twice()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).Return(featured, nil).Once()
	s.env.OnActivity(s.a.Train, mock.Anything, mock.Anything).Return(trained, nil).Once()
	s.env.OnActivity(s.a.Evaluate, mock.Anything, mock.Anything).Return(scored, nil).Once()
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).Return(activities.RegisterResult{Version: 1, Promoted: true, Alias: "production"}, nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().NoError(s.env.GetWorkflowError())
}

// A registry that is down for minutes (a failover) at register time delays
// the run; it does not throw away the training before it.
func (s *pipelineSuite) TestOutlastsARegistryOutage() {
	s.mockUpToEvaluate()
	down := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	// Twelve attempts back off for 1+2+4+...+32+60+60+60+60 s, about 6 minutes.
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).Return(activities.RegisterResult{}, down).Times(12)
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).Return(activities.RegisterResult{Version: 1, Promoted: true, Alias: "production"}, nil).Once()
	start := s.env.Now()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().NoError(s.env.GetWorkflowError())
	s.Greater(s.env.Now().Sub(start), 5*time.Minute)
}

// A registry that never comes back fails the stage after its attempts,
// about 55 minutes, and recording the failure keeps trying past that.
func (s *pipelineSuite) TestFailsWhenTheRegistryStaysDown() {
	s.mockUpToEvaluate()
	down := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	registers := 0
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).Return(func(context.Context, activities.RegisterInput) (activities.RegisterResult, error) {
		registers++
		return activities.RegisterResult{}, down
	})
	failRuns := 0
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.Anything).Return(func(context.Context, activities.FailRunInput) error {
		failRuns++
		if failRuns <= 70 { // about an hour
			return down
		}
		return nil
	})
	start := s.env.Now()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().Error(s.env.GetWorkflowError())
	s.Equal(lightStageAttempts, registers)
	s.Equal(71, failRuns)
	s.Greater(s.env.Now().Sub(start), 50*time.Minute)
}

// Bad data fails the run at once. The failure is recorded too, with no
// run ID: FailRun finds the run if Ingest recorded one.
func (s *pipelineSuite) TestBadDataFailsWithoutRetry() {
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).
		Return(activities.IngestResult{}, temporal.NewNonRetryableApplicationError("ingest: no usable rows", activities.ErrBadData, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.MatchedBy(func(in activities.FailRunInput) bool { return in.RunID == 0 })).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var app *temporal.ApplicationError
	s.Require().True(errors.As(err, &app), "want an application error, got %v", err)
	s.Equal(activities.ErrBadData, app.Type())
	s.Contains(err.Error(), "no usable rows")
}

// A cancelled run is recorded as canceled, not failed.
func (s *pipelineSuite) TestCancelRecordsTheRunCanceled() {
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).After(time.Hour).Return(featured, nil).Once()
	// The registry records why in words, not the SDK's error around it.
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.MatchedBy(func(in activities.FailRunInput) bool {
		return in.RunID == 7 && in.Canceled && in.Error == "features: canceled"
	})).Return(nil).Once()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.True(temporal.IsCanceledError(s.env.GetWorkflowError()), "%v", s.env.GetWorkflowError())
	s.Equal("canceled", s.progress().Stage)
	s.Equal("canceled during features", s.currentDetails())
}

// progress answers the progress query of the workflow run.
func (s *pipelineSuite) progress() Progress {
	v, err := s.env.QueryWorkflow(ProgressQuery)
	s.Require().NoError(err)
	var p Progress
	s.Require().NoError(v.Get(&p))
	return p
}

// A run that fails is not recorded as canceled.
func (s *pipelineSuite) TestFailureIsNotRecordedAsCanceled() {
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).
		Return(activities.FeaturesResult{}, temporal.NewNonRetryableApplicationError("features: bad params", activities.ErrBadParams, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.MatchedBy(func(in activities.FailRunInput) bool { return in.RunID == 7 && !in.Canceled })).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	s.Require().Error(s.env.GetWorkflowError())
	s.Equal("failed", s.progress().Stage)
}

func (s *pipelineSuite) TestQualityGateFailsRunAndRecordsIt() {
	s.mockUpToEvaluate()
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).
		Return(activities.RegisterResult{}, temporal.NewNonRetryableApplicationError("quality gate: under the floor", activities.ErrQualityGate, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.MatchedBy(func(in activities.FailRunInput) bool {
		return in.RunID == 7 && in.Error == "register: quality gate: under the floor"
	})).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, params())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	// The run fails with the stage's reason, which the Temporal UI and a
	// schedule's pause note show, not with "activity error".
	var app *temporal.ApplicationError
	s.Require().True(errors.As(errors.Unwrap(err), &app), "the workflow's failure: %v", err)
	s.Equal(activities.ErrQualityGate, app.Type())
	s.Equal("quality gate: under the floor", app.Message())
	var act *temporal.ActivityError
	s.True(errors.As(app, &act), "the activity error is kept as the cause")
	s.Equal("failed at register: quality gate: under the floor", s.currentDetails())
}

// currentDetails returns what the Temporal UI shows as the run's current
// details.
func (s *pipelineSuite) currentDetails() string {
	v, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
	s.Require().NoError(err)
	var md sdkpb.WorkflowMetadata
	s.Require().NoError(v.Get(&md))
	return md.GetCurrentDetails()
}

func (s *pipelineSuite) TestInvalidParamsFailBeforeAnyActivity() {
	p := params()
	p.Source.YKey = ""
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Contains(err.Error(), "raw input needs both x_key and y_key")
}

// The classifier's parameters are left to the activities, whose checks
// may change between deploys: Ingest refuses them first, and the run fails
// as BadParams.
func (s *pipelineSuite) TestClassifierParamsAreCheckedByIngest() {
	p := params()
	cp := classifier.DefaultParams()
	cp.Solver.Multiclass, cp.Solver.Balanced = linear.CrammerSinger, true
	p.Params = &cp
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.MatchedBy(func(in activities.IngestInput) bool { return in.Params.Solver.Balanced })).
		Return(activities.IngestResult{}, temporal.NewNonRetryableApplicationError("invalid training parameters: balanced class weights do not apply to crammer-singer", activities.ErrBadParams, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.Anything).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	var app *temporal.ApplicationError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &app)
	s.Equal(activities.ErrBadParams, app.Type())
}

// A run that started while the workflow checked them refuses them before
// any activity, as it did then.
func (s *pipelineSuite) TestOlderRunsCheckClassifierParamsThemselves() {
	s.env.OnGetVersion(paramsCheckedByActivitiesChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	p := params()
	cp := classifier.DefaultParams()
	cp.Solver.Multiclass, cp.Solver.Balanced = linear.CrammerSinger, true
	p.Params = &cp
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	s.Require().ErrorContains(s.env.GetWorkflowError(), "balanced class weights do not apply to crammer-singer")
}

// A run that started before the stricter solver checks got past the ones
// it had, and its replay does too.
func (s *pipelineSuite) TestStricterSolverChecksSpareOlderRuns() {
	s.env.OnGetVersion(strictSolverParamsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	s.env.OnGetVersion(paramsCheckedByActivitiesChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	p := params()
	cp := classifier.DefaultParams()
	cp.Solver.Multiclass, cp.Solver.Balanced, cp.Solver.Bias = linear.CrammerSinger, true, 5000
	p.Params = &cp
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.Anything).
		Return(activities.IngestResult{}, temporal.NewNonRetryableApplicationError("got to ingest", activities.ErrBadData, nil)).Once()
	s.env.OnActivity(s.a.FailRun, mock.Anything, mock.Anything).Return(nil).Once()
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	s.Require().ErrorContains(s.env.GetWorkflowError(), "got to ingest")
}

// A model name the registry would refuse fails at once as BadParams, not
// after five attempts of the first activity.
func (s *pipelineSuite) TestInvalidModelNameFailsBeforeAnyActivity() {
	p := params()
	p.ModelName = "team/prdtypecode"
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var app *temporal.ApplicationError
	s.Require().True(errors.As(err, &app))
	s.Equal(activities.ErrBadParams, app.Type())
	s.Contains(err.Error(), `model name "team/prdtypecode"`)
}

func TestDefaults(t *testing.T) {
	p := TrainingParams{}.WithDefaults()
	require.NotNil(t, p.Params)
	require.Equal(t, DefaultHoldoutFraction, p.HoldoutFraction)
	require.Equal(t, activities.Gate{Margin: DefaultPromotionMargin, Floor: DefaultPromotionFloor}, p.Gate)
	// A gate of zeros given as such is kept: promote any gain.
	p = TrainingParams{GateSet: true}.WithDefaults()
	require.Equal(t, activities.Gate{}, p.Gate)
}

// A feed is resolved once, before Ingest, which gets the version's objects.
func (s *pipelineSuite) TestResolvesFeedOnceBeforeIngest() {
	resolved := activities.ResolveFeedResult{Feed: "catalogue", Version: 4, Source: activities.Source{XKey: "raw/x4.csv", YKey: "raw/y4.csv"}}
	s.env.OnActivity(s.a.ResolveFeed, mock.Anything, "catalogue").Return(resolved, nil).Once()
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.MatchedBy(func(in activities.IngestInput) bool {
		return in.Source.Feed == "" && in.Source.XKey == "raw/x4.csv" && in.Source.YKey == "raw/y4.csv" && in.Feed == "catalogue" && in.FeedVersion == 4
	})).Return(activities.IngestResult{}, errors.New("connection reset by peer")).Once()
	s.env.OnActivity(s.a.Ingest, mock.Anything, mock.MatchedBy(func(in activities.IngestInput) bool { return in.FeedVersion == 4 })).Return(ingested, nil).Once()
	s.env.OnActivity(s.a.Features, mock.Anything, mock.Anything).Return(featured, nil).Once()
	s.env.OnActivity(s.a.Train, mock.Anything, mock.Anything).Return(trained, nil).Once()
	s.env.OnActivity(s.a.Evaluate, mock.Anything, mock.Anything).Return(scored, nil).Once()
	s.env.OnActivity(s.a.Register, mock.Anything, mock.Anything).Return(activities.RegisterResult{Version: 1, Promoted: true, Alias: "production"}, nil).Once()
	p := params()
	p.Source = activities.Source{Feed: "catalogue"}
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	s.Require().NoError(s.env.GetWorkflowError())
}

// A feed that cannot be resolved fails the run before Ingest, with the
// activity's error type.
func (s *pipelineSuite) TestUnresolvableFeedFails() {
	s.env.OnActivity(s.a.ResolveFeed, mock.Anything, "catalogue").
		Return(activities.ResolveFeedResult{}, temporal.NewNonRetryableApplicationError("resolve feed: feed catalogue was never published", activities.ErrBadData, nil)).Once()
	p := params()
	p.Source = activities.Source{Feed: "catalogue"}
	s.env.ExecuteWorkflow(TrainingPipeline, p)
	var app *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &app))
	s.Equal(activities.ErrBadData, app.Type())
}

func TestFailureReason(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError("ingest: no usable rows", activities.ErrBadData, nil)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{app, "ingest: no usable rows"},
		{fmt.Errorf("wrapped: %w", app), "ingest: no usable rows"},
		{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), "timed out (StartToClose)"},
		{errors.New("plain"), "plain"},
	} {
		if got := failureReason(tc.err); got != tc.want {
			t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestStageFailure(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError("quality gate: under the floor", activities.ErrQualityGate, nil)
	var got *temporal.ApplicationError
	if err := stageFailure("register", failureReason(app), app); !errors.As(err, &got) || got.Type() != activities.ErrQualityGate || got.Message() != "quality gate: under the floor" {
		t.Errorf("an activity's own failure: %v", err)
	}
	timeout := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
	if err := stageFailure("train", failureReason(timeout), timeout); !errors.As(err, &got) || got.Type() != "StageFailed" || got.Message() != "train: timed out (Heartbeat)" {
		t.Errorf("a timeout: %v", err)
	}
}

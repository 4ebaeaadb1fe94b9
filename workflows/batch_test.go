package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/prodcat/prodcat/activities"
)

// batchEnv returns a test environment running BatchPredict, with the
// prediction answering predict, and a function reading the progress query.
func batchEnv(t *testing.T, predict func(context.Context, activities.BatchPredictInput) (activities.BatchPredictResult, error)) (*testsuite.TestWorkflowEnvironment, func() Progress) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.BatchPredict, mock.Anything, mock.Anything).Return(predict).Once()
	progress := func() Progress {
		v, err := env.QueryWorkflow(ProgressQuery)
		require.NoError(t, err)
		var p Progress
		require.NoError(t, v.Get(&p))
		return p
	}
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env, progress
}

// A batch prediction answers the progress query as a training does: its one
// stage while it runs, done at the end, with its result in the current
// details.
func TestBatchPredictProgress(t *testing.T) {
	var during Progress
	var env *testsuite.TestWorkflowEnvironment
	env, progress := batchEnv(t, func(context.Context, activities.BatchPredictInput) (activities.BatchPredictResult, error) {
		v, err := env.QueryWorkflow(ProgressQuery)
		if err == nil {
			err = v.Get(&during)
		}
		return activities.BatchPredictResult{PredictionsKey: "predictions/p.csv", Rows: 10, Rejected: 1, ModelVersion: 3}, err
	})
	env.ExecuteWorkflow(BatchPredict, activities.BatchPredictInput{ModelName: "prdtypecode", XKey: "raw/x.csv"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, Progress{Stage: activities.PredictStage, Done: []string{}}, during)
	require.Equal(t, Progress{Stage: "done", Percent: 100, Done: []string{activities.PredictStage}}, progress())
	v, err := env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	require.Equal(t, "prdtypecode v3 (production): 10 rows predicted, 1 rejected; predictions/p.csv", md.GetCurrentDetails())
	// The heartbeat's rows make up the whole run.
	require.Equal(t, 100, StageShare(activities.PredictStage))
}

// A failed batch prediction says so in its progress and fails with the
// stage's reason and type.
func TestBatchPredictFailure(t *testing.T) {
	env, progress := batchEnv(t, func(context.Context, activities.BatchPredictInput) (activities.BatchPredictResult, error) {
		return activities.BatchPredictResult{}, temporal.NewNonRetryableApplicationError("batch predict: model m has no production version yet", activities.ErrNoModel, nil)
	})
	env.ExecuteWorkflow(BatchPredict, activities.BatchPredictInput{ModelName: "m", XKey: "raw/x.csv"})
	var app *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &app)
	require.Equal(t, activities.ErrNoModel, app.Type())
	require.Contains(t, app.Message(), "has no production version yet")
	require.Equal(t, "failed", progress().Stage)
}

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

// A comparison answers the progress query as a batch prediction does, and
// shows its figures in the current details; a failure keeps its type.
func TestCompareVersions(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	var during Progress
	want := activities.Comparison{Model: "m", Rows: 100, Rejected: 2,
		Versions: []activities.VersionScore{{Version: 3, WeightedF1: 0.75, MacroF1: 0.7, Accuracy: 0.76}, {Version: 4, WeightedF1: 0.78, MacroF1: 0.72, Accuracy: 0.79}},
		Pairs:    []activities.VersionPair{{A: 3, B: 4, OnlyARight: 1, OnlyBRight: 4, McNemarP: 0.375}}}
	env.OnActivity(a.CompareVersions, mock.Anything, mock.Anything).Return(func(context.Context, activities.CompareInput) (activities.Comparison, error) {
		v, err := env.QueryWorkflow(ProgressQuery)
		if err == nil {
			err = v.Get(&during)
		}
		return want, err
	}).Once()
	in := activities.CompareInput{ModelName: "m", Versions: []int{3, 4}, Source: activities.Source{XKey: "raw/x.csv", YKey: "raw/y.csv"}, MaxRejectFraction: 0.1}
	env.ExecuteWorkflow(CompareVersions, in)
	require.NoError(t, env.GetWorkflowError())
	var got activities.Comparison
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Equal(t, want, got)
	require.Equal(t, Progress{Stage: activities.CompareStage, Done: []string{}}, during)
	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	require.Equal(t, Progress{Stage: "done", Percent: 100, Done: []string{activities.CompareStage}}, p)
	v, err = env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	require.Contains(t, md.GetCurrentDetails(), "| v4 | 0.7800 | 0.7200 | 0.7900 |")
	require.Contains(t, md.GetCurrentDetails(), "v3 against v4: rows only v3 gets right 1, only v4 4; McNemar p = 0.375")
	env.AssertExpectations(t)
	require.Equal(t, 100, StageShare(activities.CompareStage))

	env = s.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.OnActivity(a.CompareVersions, mock.Anything, mock.Anything).Return(activities.Comparison{},
		temporal.NewNonRetryableApplicationError("compare versions: model m has no version 9", activities.ErrNoModel, nil)).Once()
	env.ExecuteWorkflow(CompareVersions, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &app)
	require.Equal(t, activities.ErrNoModel, app.Type())
	require.Contains(t, app.Message(), "has no version 9")
	v, err = env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	require.NoError(t, v.Get(&p))
	require.Equal(t, "failed", p.Stage)
	env.AssertExpectations(t)

	// A failure without a type of ours is the stage's, named.
	env = s.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.OnActivity(a.CompareVersions, mock.Anything, mock.Anything).Return(activities.Comparison{},
		temporal.NewNonRetryableApplicationError("disk full", "", nil)).Once()
	env.ExecuteWorkflow(CompareVersions, in)
	require.ErrorAs(t, env.GetWorkflowError(), &app)
	require.Equal(t, "StageFailed", app.Type())
	require.Equal(t, "compare: disk full", app.Message())
	env.AssertExpectations(t)
}

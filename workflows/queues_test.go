package workflows

import (
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// A run waits on its activity queue only while an activity is scheduled
// and not started: a training worker busy with one polls no more.
func TestWaiting(t *testing.T) {
	queues := []TaskQueue{{"main", enumspb.TASK_QUEUE_TYPE_WORKFLOW}, {"heavy", enumspb.TASK_QUEUE_TYPE_ACTIVITY}}
	desc := func(states ...enumspb.PendingActivityState) *workflowservice.DescribeWorkflowExecutionResponse {
		d := &workflowservice.DescribeWorkflowExecutionResponse{}
		for _, s := range states {
			d.PendingActivities = append(d.PendingActivities, &workflowpb.PendingActivityInfo{State: s})
		}
		return d
	}
	for _, tc := range []struct {
		name string
		desc *workflowservice.DescribeWorkflowExecutionResponse
		want []string
	}{
		{"no activity", desc(), []string{"main"}},
		{"one started", desc(enumspb.PENDING_ACTIVITY_STATE_STARTED), []string{"main"}},
		{"one scheduled", desc(enumspb.PENDING_ACTIVITY_STATE_SCHEDULED), []string{"main", "heavy"}},
	} {
		var got []string
		for _, q := range Waiting(tc.desc, queues) {
			got = append(got, q.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: waiting on %v, want %v", tc.name, got, tc.want)
		}
	}
}

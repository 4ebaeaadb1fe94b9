package workflows

import (
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
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

// A worker whose last poll is older than an idle worker's would be counts
// as gone, though Temporal still lists it.
func TestPolled(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *taskqueuepb.PollerInfo {
		return &taskqueuepb.PollerInfo{LastAccessTime: timestamppb.New(now.Add(-ago))}
	}
	for _, tc := range []struct {
		name    string
		pollers []*taskqueuepb.PollerInfo
		want    bool
	}{
		{"none", nil, false},
		{"polled a minute ago", []*taskqueuepb.PollerInfo{at(time.Minute)}, true},
		{"last polled 4 minutes ago", []*taskqueuepb.PollerInfo{at(4 * time.Minute)}, false},
		{"one of two recent", []*taskqueuepb.PollerInfo{at(4 * time.Minute), at(10 * time.Second)}, true},
		{"no time given", []*taskqueuepb.PollerInfo{{}}, true},
	} {
		if got := polled(tc.pollers, now); got != tc.want {
			t.Errorf("%s: polled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

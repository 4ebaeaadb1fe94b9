package schedule

import (
	"context"
	"errors"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	schedulepb "go.temporal.io/api/schedule/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
)

// fakeService describes one schedule, "nightly", as Temporal would.
type fakeService struct {
	workflowservice.WorkflowServiceClient
	policy  enumspb.ScheduleOverlapPolicy
	running []string
	buffer  int64
}

func (f *fakeService) DescribeSchedule(_ context.Context, req *workflowservice.DescribeScheduleRequest, _ ...grpc.CallOption) (*workflowservice.DescribeScheduleResponse, error) {
	if req.GetScheduleId() != "nightly" {
		return nil, &serviceerror.NotFound{Message: "schedule not found"}
	}
	info := &schedulepb.ScheduleInfo{BufferSize: f.buffer}
	for _, id := range f.running {
		info.RunningWorkflows = append(info.RunningWorkflows, &commonpb.WorkflowExecution{WorkflowId: id})
	}
	return &workflowservice.DescribeScheduleResponse{
		Schedule: &schedulepb.Schedule{Policies: &schedulepb.SchedulePolicies{OverlapPolicy: f.policy}},
		Info:     info,
	}, nil
}

// triggers records the triggers a fakeSchedules handle is sent.
type triggers struct {
	fakeSchedules
	sent []client.ScheduleTriggerOptions
}

func (f *triggers) GetHandle(context.Context, string) client.ScheduleHandle { return f }

func (f *triggers) Trigger(_ context.Context, opts client.ScheduleTriggerOptions) error {
	f.sent = append(f.sent, opts)
	return nil
}

// A trigger runs now or waits for the run going, and is never dropped
// without a word: under skip and buffer_one it is sent as buffer_all, and
// refused while another already waits.
func TestTrigger(t *testing.T) {
	const (
		unspecified = enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED
		skip        = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		bufferOne   = enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
		bufferAll   = enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL
		allowAll    = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
		cancelOther = enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
		terminate   = enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER
	)
	for _, tc := range []struct {
		name     string
		svc      fakeService
		sent     enumspb.ScheduleOverlapPolicy
		waitsFor string
		err      error
	}{
		{"idle, default policy", fakeService{policy: unspecified}, bufferAll, "", nil},
		{"idle, skip", fakeService{policy: skip}, bufferAll, "", nil},
		{"skip, a run going", fakeService{policy: skip, running: []string{"r1"}}, bufferAll, "r1", nil},
		{"skip, one waiting", fakeService{policy: skip, running: []string{"r1"}, buffer: 1}, 0, "", ErrAlreadyWaiting},
		{"buffer_one, a run going", fakeService{policy: bufferOne, running: []string{"r1"}}, bufferAll, "r1", nil},
		{"buffer_one, one waiting", fakeService{policy: bufferOne, running: []string{"r1"}, buffer: 1}, 0, "", ErrAlreadyWaiting},
		{"buffer_one, a buffer but nothing going", fakeService{policy: bufferOne, buffer: 1}, bufferAll, "", nil},
		{"buffer_all, three waiting", fakeService{policy: bufferAll, running: []string{"r1"}, buffer: 3}, unspecified, "r1", nil},
		{"allow_all", fakeService{policy: allowAll, running: []string{"r1"}}, unspecified, "", nil},
		{"cancel_other", fakeService{policy: cancelOther, running: []string{"r1"}}, unspecified, "", nil},
		{"terminate_other", fakeService{policy: terminate, running: []string{"r1"}}, cancelOther, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sched := &triggers{}
			m := &Manager{c: sched, svc: &tc.svc, namespace: "default"}
			waitsFor, err := m.Trigger(context.Background(), "nightly")
			if !errors.Is(err, tc.err) || waitsFor != tc.waitsFor {
				t.Fatalf("Trigger = %q, %v; want %q, %v", waitsFor, err, tc.waitsFor, tc.err)
			}
			if tc.err != nil {
				if len(sched.sent) != 0 {
					t.Errorf("a refused trigger was sent: %+v", sched.sent)
				}
				return
			}
			if len(sched.sent) != 1 || sched.sent[0].Overlap != tc.sent {
				t.Errorf("sent %+v, want one with overlap %v", sched.sent, tc.sent)
			}
		})
	}
	m := &Manager{c: &triggers{}, svc: &fakeService{}, namespace: "default"}
	if _, err := m.Trigger(context.Background(), "weekly"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown schedule: %v, want ErrNotFound", err)
	}
}

package schedule

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/workflows"
)

func TestCalendarCron(t *testing.T) {
	r := func(start, end, step int) []client.ScheduleRange {
		return []client.ScheduleRange{{Start: start, End: end, Step: step}}
	}
	// every is a described calendar for "0 0 * * *": Temporal fills in every
	// field, full ranges spelled out.
	every := func() client.ScheduleCalendarSpec {
		return client.ScheduleCalendarSpec{Second: r(0, 0, 1), Minute: r(0, 0, 1), Hour: r(0, 0, 1),
			DayOfMonth: r(1, 31, 1), Month: r(1, 12, 1), DayOfWeek: r(0, 6, 1)}
	}
	for _, tc := range []struct {
		mutate func(*client.ScheduleCalendarSpec)
		want   string
	}{
		{func(c *client.ScheduleCalendarSpec) { c.Hour = r(3, 0, 1) }, "0 3 * * *"},
		{func(c *client.ScheduleCalendarSpec) {
			c.Minute, c.Hour, c.DayOfWeek = r(0, 59, 15), r(9, 17, 1), r(1, 5, 0)
		}, "*/15 9-17 * * 1-5"},
		{func(c *client.ScheduleCalendarSpec) {
			c.Minute, c.Hour = r(30, 0, 0), r(2, 0, 0)
			c.DayOfMonth = []client.ScheduleRange{{Start: 1}, {Start: 15}}
		}, "30 2 1,15 * *"},
		// Seconds or years make it seven fields, seconds first.
		{func(c *client.ScheduleCalendarSpec) { c.Second, c.Minute = r(30, 0, 0), r(5, 50, 5) }, "30 5-50/5 0 * * * *"},
		{func(c *client.ScheduleCalendarSpec) { c.Year = r(2027, 0, 0) }, "0 0 0 * * * 2027"},
		// A described calendar with an empty field never fires.
		{func(c *client.ScheduleCalendarSpec) { c.Hour = nil }, "never (a calendar field is empty)"},
	} {
		c := every()
		tc.mutate(&c)
		if got := calendarCron(c); got != tc.want {
			t.Errorf("calendarCron(%+v) = %q, want %q", c, got, tc.want)
		}
	}
}

func TestTrainingOf(t *testing.T) {
	p, err := converter.GetDefaultDataConverter().ToPayload(workflows.TrainingParams{ModelName: "m", Source: activities.Source{Feed: "catalogue"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := trainingOf(&client.ScheduleWorkflowAction{Workflow: workflows.TrainingWorkflowType, Args: []any{p}}); got == nil || got.Source.Feed != "catalogue" {
		t.Errorf("trainingOf(a training) = %+v, want its params", got)
	}
	garbled := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte("{")}
	for name, a := range map[string]client.ScheduleAction{
		"other workflow": &client.ScheduleWorkflowAction{Workflow: "BatchPredict", Args: []any{p}},
		"no arguments":   &client.ScheduleWorkflowAction{Workflow: workflows.TrainingWorkflowType},
		"garbled":        &client.ScheduleWorkflowAction{Workflow: workflows.TrainingWorkflowType, Args: []any{garbled}},
	} {
		if got := trainingOf(a); got != nil {
			t.Errorf("%s: trainingOf = %+v, want nil", name, got)
		}
	}
}

func TestBackfillEnd(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	daily := &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour, Offset: 3 * time.Hour}}, Jitter: 6 * time.Hour}
	for _, tc := range []struct {
		name string
		spec *client.ScheduleSpec
		next []time.Time
		end  time.Time
		want time.Time
	}{
		{"no jitter", &client.ScheduleSpec{Intervals: daily.Intervals}, nil, day, day},
		{"on a slot: by the jitter", daily, nil, day.Add(3 * time.Hour), day.Add(9 * time.Hour)},
		{"between slots: not past the next", daily, nil, day, day.Add(3*time.Hour - time.Millisecond)},
		{"jitter wider than the interval", &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}, Jitter: time.Hour},
			nil, day, day.Add(15*time.Minute - time.Millisecond)},
		{"calendar: by the jitter", &client.ScheduleSpec{CronExpressions: []string{"0 3 * * *"}, Jitter: 10 * time.Minute},
			[]time.Time{day.Add(27 * time.Hour), day.Add(51 * time.Hour)}, day, day.Add(10 * time.Minute)},
		{"calendar: at most half the gap", &client.ScheduleSpec{CronExpressions: []string{"*/15 * * * *"}, Jitter: time.Hour},
			[]time.Time{day.Add(time.Minute), day.Add(16 * time.Minute), day.Add(31 * time.Minute)}, day, day.Add(7*time.Minute + 30*time.Second)},
	} {
		if got := backfillEnd(tc.spec, tc.next, tc.end); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

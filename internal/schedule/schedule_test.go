package schedule

import (
	"testing"

	"go.temporal.io/sdk/client"
)

func TestCalendarCron(t *testing.T) {
	r := func(start, end, step int) client.ScheduleRange {
		return client.ScheduleRange{Start: start, End: end, Step: step}
	}
	for _, tc := range []struct {
		c    client.ScheduleCalendarSpec
		want string
	}{
		// 0 3 * * *, as Temporal describes it: zero seconds, full ranges spelled out.
		{client.ScheduleCalendarSpec{Second: []client.ScheduleRange{r(0, 0, 1)}, Minute: []client.ScheduleRange{r(0, 0, 1)},
			Hour: []client.ScheduleRange{r(3, 0, 1)}, DayOfMonth: []client.ScheduleRange{r(1, 31, 1)},
			Month: []client.ScheduleRange{r(1, 12, 1)}, DayOfWeek: []client.ScheduleRange{r(0, 6, 1)}}, "0 3 * * *"},
		{client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{r(0, 59, 15)}, Hour: []client.ScheduleRange{r(9, 17, 1)},
			DayOfWeek: []client.ScheduleRange{r(1, 5, 0)}}, "*/15 9-17 * * 1-5"},
		{client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{r(30, 0, 0)}, Hour: []client.ScheduleRange{r(2, 0, 0)},
			DayOfMonth: []client.ScheduleRange{r(1, 0, 0), r(15, 0, 0)}}, "30 2 1,15 * *"},
		{client.ScheduleCalendarSpec{Second: []client.ScheduleRange{r(30, 0, 0)}, Minute: []client.ScheduleRange{r(5, 50, 5)}}, "30 5-50/5 0 * * *"},
		// Empty: midnight every day.
		{client.ScheduleCalendarSpec{}, "0 0 * * *"},
	} {
		if got := calendarCron(tc.c); got != tc.want {
			t.Errorf("calendarCron(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

package workflows

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// daysIn is the most days each month has (February in a leap year).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// monthNames are the names a cron month field may use.
var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

// cronNeverFires reports whether the 5-field cron expression names only
// days no month has, such as 31 February, so that a schedule of it would
// never run. It answers only what it can be sure of: an expression it
// cannot read, or one that restricts the day of the week too, is left to
// Temporal.
func cronNeverFires(expr string) bool {
	f := strings.Fields(expr)
	if len(f) != 5 || (f[4] != "*" && f[4] != "?") {
		return false
	}
	days, ok := cronField(f[2], 1, 31, nil)
	if !ok {
		return false
	}
	months, ok := cronField(f[3], 1, 12, monthNames)
	if !ok {
		return false
	}
	for _, m := range months {
		for _, d := range days {
			if d <= daysIn[m] {
				return false
			}
		}
	}
	return true
}

// macroCron spells out the cron shorthands.
var macroCron = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
	"@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// dayNames are the names a cron day-of-week field may use.
var dayNames = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

// shortestCronGap returns the shortest time between two successive runs of
// a cron expression, as Temporal runs it (a day must match the day of the
// month and the day of the week, both), over eight years from a fixed
// date, so the answer does not depend on when it is asked. It is false
// when it cannot tell: an expression it cannot read is left to Temporal.
func shortestCronGap(expr string) (time.Duration, bool) {
	if m, ok := macroCron[expr]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return 0, false
	}
	minutes, ok1 := cronField(f[0], 0, 59, nil)
	hours, ok2 := cronField(f[1], 0, 23, nil)
	days, ok3 := cronField(f[2], 1, 31, nil)
	months, ok4 := cronField(f[3], 1, 12, monthNames)
	weekdays, ok5 := cronField(f[4], 0, 7, dayNames)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return 0, false
	}
	var inDay []int // minutes of the day it runs at, in order
	for _, h := range hours {
		for _, m := range minutes {
			inDay = append(inDay, h*60+m)
		}
	}
	slices.Sort(inDay)
	inDay = slices.Compact(inDay)
	gap := 0
	for i := 1; i < len(inDay); i++ {
		if d := inDay[i] - inDay[i-1]; gap == 0 || d < gap {
			gap = d
		}
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	last := -1 // the last day it ran, counted from start
	for n := range 8 * 366 {
		day := start.AddDate(0, 0, n)
		wd := int(day.Weekday())
		if !slices.Contains(months, int(day.Month())) || !slices.Contains(days, day.Day()) ||
			!(slices.Contains(weekdays, wd) || wd == 0 && slices.Contains(weekdays, 7)) {
			continue
		}
		if last >= 0 {
			if d := (n-last)*24*60 - inDay[len(inDay)-1] + inDay[0]; gap == 0 || d < gap {
				gap = d
			}
		}
		last = n
	}
	return time.Duration(gap) * time.Minute, gap > 0
}

// cronField returns the values a cron field of lists, ranges and steps
// (*, a, a-b, */n, a-b/n, a/n) takes between lo and hi, or false when it
// uses anything else.
func cronField(field string, lo, hi int, names map[string]int) ([]int, bool) {
	value := func(s string) (int, bool) {
		if v, ok := names[strings.ToUpper(s)]; ok {
			return v, true
		}
		v, err := strconv.Atoi(s)
		return v, err == nil && v >= lo && v <= hi
	}
	var out []int
	for _, item := range strings.Split(field, ",") {
		rng, stepText, stepped := strings.Cut(item, "/")
		step := 1
		if stepped {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return nil, false
			}
			step = n
		}
		from, to := lo, hi
		switch a, b, isRange := strings.Cut(rng, "-"); {
		case rng == "*" || rng == "?":
		case isRange:
			var okA, okB bool
			from, okA = value(a)
			to, okB = value(b)
			if !okA || !okB || from > to {
				return nil, false
			}
		default:
			v, ok := value(rng)
			if !ok {
				return nil, false
			}
			from, to = v, v
			if stepped {
				to = hi
			}
		}
		for v := from; v <= to; v += step {
			out = append(out, v)
		}
	}
	return out, true
}

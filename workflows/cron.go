package workflows

import (
	"strconv"
	"strings"
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

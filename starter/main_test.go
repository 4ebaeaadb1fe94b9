package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/schedule"
)

// Exit status 2 is for the command line, the settings and what the
// service refuses as asked; only a misused flag points at --help.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		help bool
	}{
		{nil, 0, false},
		{errors.New("connection refused"), 1, false},
		{usagef("--holdout 2: want a share"), 2, true},
		{settingsError{errors.New("log level")}, 2, false},
		{scheduleUsage(fmt.Errorf("backfill schedule s: %w from a to b", schedule.ErrNothingDue)), 2, false},
		{scheduleUsage(fmt.Errorf("backfill schedule s: %w: more than 500", schedule.ErrTooMany)), 2, false},
		{scheduleUsage(fmt.Errorf("backfill schedule s: end is %w", schedule.ErrNotPast)), 2, false},
		{scheduleUsage(fmt.Errorf("trigger schedule s: %w (r1)", schedule.ErrAlreadyWaiting)), 2, false},
		{scheduleUsage(fmt.Errorf("create schedule s: %w", schedule.ErrInvalidSpec)), 2, true},
		{scheduleUsage(fmt.Errorf("schedule s: %w", schedule.ErrNotFound)), 1, false},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, got, tc.code)
		}
		if tc.err != nil && strings.Contains(tc.err.Error(), "see --help") != tc.help {
			t.Errorf("%q: points at --help: %v, want %v", tc.err, !tc.help, tc.help)
		}
	}
}

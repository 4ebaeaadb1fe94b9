package main

import (
	"strings"
	"testing"

	"github.com/prodcat/prodcat/internal/config"
)

// Settings the worker cannot run with are refused before it connects to
// anything.
func TestCheckQueues(t *testing.T) {
	var cfg config.Config
	cfg.Temporal.TaskQueue, cfg.Temporal.TrainingQueue = "prodcat", "prodcat"
	for _, tc := range []struct {
		queues []string
		want   string
	}{
		{[]string{"main", "heavy"}, `unknown queue "heavy"`},
		{[]string{"main", "training"}, "heavy activities need a queue of their own"},
		{[]string{"training"}, "heavy activities need a queue of their own"},
	} {
		if err := checkQueues(cfg, tc.queues); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("queues %v: err = %v, want %q", tc.queues, err, tc.want)
		}
	}
}

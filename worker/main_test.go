package main

import (
	"io"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/internal/config"
)

// Settings the worker cannot run with are refused before it connects to
// anything.
func TestRunRefusesBadQueues(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
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
		if err := run(cfg, log, tc.queues); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("queues %v: err = %v, want %q", tc.queues, err, tc.want)
		}
	}
}

package main

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// taskQueue is a task queue a run needs a worker on, and for what.
type taskQueue struct {
	name string
	kind enumspb.TaskQueueType
}

// workerCheckInterval is how often watchWorkers looks for pollers.
const workerCheckInterval = 5 * time.Second

// watchWorkers warns, once per queue, when no worker polls a task queue the
// run needs: the run would otherwise wait without a word. It says so again
// when a worker turns up, and returns when ctx ends.
func (a *app) watchWorkers(ctx context.Context, c client.Client, every time.Duration, queues ...taskQueue) {
	warned := make(map[string]bool)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, q := range queues {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			d, err := c.DescribeTaskQueue(qctx, q.name, q.kind)
			cancel()
			if err != nil {
				continue // Temporal itself is unwell: run.Get reports that
			}
			log := a.log.WithField("task_queue", q.name)
			// Temporal lists a worker for some minutes after its last poll:
			// a worker busy with a long stage polls no more until it ends.
			switch polled := len(d.GetPollers()) > 0; {
			case !polled && !warned[q.name]:
				log.Warn("no worker is polling this task queue, so the run waits; start one with `go tool task worker` (or `go run ./worker`)")
				warned[q.name] = true
			case polled && warned[q.name]:
				log.Info("a worker now polls this task queue")
				warned[q.name] = false
			}
		}
	}
}

// runQueues are the task queues a training or batch prediction needs:
// workflow and light activities on the main queue, heavy stages on the
// training queue.
func (a *app) runQueues() []taskQueue {
	qs := []taskQueue{{a.cfg.Temporal.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW}}
	if tq := a.cfg.Temporal.TrainingQueue; tq != "" && tq != a.cfg.Temporal.TaskQueue {
		qs = append(qs, taskQueue{tq, enumspb.TASK_QUEUE_TYPE_ACTIVITY})
	}
	return qs
}

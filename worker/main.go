// Command worker runs prodcat's Temporal workers: one on the main task
// queue for the workflows and light activities, one on the training queue
// for the CPU-heavy stages, so heavy work can be scaled on its own
// machines. It connects to Temporal, S3 and PostgreSQL at start-up,
// waiting for those that do not answer yet and failing with a clear
// message on settings that are wrong, and shuts down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/reconcile"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/version"
	"github.com/prodcat/prodcat/workflows"
)

func main() {
	queues := flag.String("queues", "main,training", "which task queues to serve: main, training or both")
	flag.Parse()
	if flag.NArg() > 0 {
		// A setting given as an argument would otherwise be ignored.
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q: settings come from the environment (PRODCAT_*), flags from -h\n", "worker", flag.Arg(0))
		os.Exit(2)
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, logging.JSON, cfg.Log.Level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	qs := strings.Split(*queues, ",")
	if err := checkQueues(cfg, qs); err != nil {
		log.WithError(err).Error("worker: wrong settings")
		os.Exit(2)
	}
	if err := run(cfg, log, qs); err != nil {
		log.WithError(err).Error("worker stopped")
		os.Exit(1)
	}
	log.Info("worker stopped")
}

// startTimeout bounds the wait for each dependency at start-up.
const startTimeout = 30 * time.Second

// reconcileInterval is how often the main worker looks for runs whose
// workflow ended without recording its end.
const reconcileInterval = 5 * time.Minute

// checkQueues refuses settings the worker cannot run with, before it
// connects to anything: the worker exits 2 for them.
func checkQueues(cfg config.Config, queues []string) error {
	for _, q := range queues {
		if q != "main" && q != "training" {
			return fmt.Errorf("-queues: unknown queue %q (want main and/or training)", q)
		}
	}
	if cfg.Temporal.TrainingQueue == cfg.Temporal.TaskQueue {
		// Two workers on one queue, in this process or two, registered
		// differently, would take each other's tasks and fail them as
		// unregistered.
		return fmt.Errorf("PRODCAT_TRAINING_QUEUE is PRODCAT_TASK_QUEUE (%q): heavy activities need a queue of their own, where a worker runs one at a time; give it another name", cfg.Temporal.TaskQueue)
	}
	return nil
}

func run(cfg config.Config, log *logrus.Logger, queues []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one kills.
	context.AfterFunc(ctx, stop)

	m := newMetrics()
	var state atomic.Int32 // starting
	// Counted only when served: the SDK reports on every request.
	var sdkMetrics client.MetricsHandler
	var interceptors []interceptor.WorkerInterceptor
	if addr := cfg.Temporal.WorkerMetricsAddr; addr != "" {
		sdkMetrics, interceptors = m.sdk.handler(), []interceptor.WorkerInterceptor{m}
		// Served from the start, so a probe sees a worker that waits for
		// its dependencies, and until the workers have stopped, so the last
		// scrape sees how the running activities ended.
		mctx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		merrc, err := serveMetrics(mctx, addr, cfg.API.MetricsToken, m, &state)
		if err != nil {
			return fmt.Errorf("listen on %s (PRODCAT_WORKER_METRICS_ADDR): %w", addr, err)
		}
		go func() {
			for err := range merrc {
				log.WithError(err).Error("worker: /metrics and /healthz stopped answering")
			}
		}()
		log.WithField("addr", addr).Info("worker: serving /metrics, /livez and /healthz")
	}
	store, err := artifact.New(cfg.S3)
	if err != nil {
		return err
	}
	// Dependencies that do not answer yet (a host that boots, an outage)
	// are waited for, so the worker does not die before they come up;
	// what waiting cannot mend (no bucket, refused credentials) stops it.
	err = waitFor(ctx, log, "s3", func(ctx context.Context) error { return store.CheckBucket(ctx) }, func(err error) bool {
		return !errors.Is(err, artifact.ErrNoBucket) && !errors.Is(err, artifact.ErrCredentials)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting
		}
		return err
	}
	expireFeatures(ctx, store, cfg.S3.FeaturesExpireDays, log)
	// A PostgreSQL that is down is waited for, as a restart during a
	// database outage should not leave the worker dead.
	reg, err := registry.OpenWait(ctx, cfg.DatabaseURL, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting
		}
		return err
	}
	defer reg.Close()
	var c client.Client
	err = waitFor(ctx, log, "temporal", func(ctx context.Context) (err error) {
		c, err = client.DialContext(ctx, client.Options{
			HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: logging.NewTemporal(log),
			MetricsHandler: sdkMetrics,
		})
		if err != nil {
			return fmt.Errorf("connect to Temporal at %s: %w", cfg.Temporal.Address, err)
		}
		return nil
	}, temporalUnavailable)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting
		}
		return err
	}
	defer c.Close()

	// A worker that stops for good (its namespace gone, credentials revoked)
	// ends the process, so a supervisor restarts it instead of it idling.
	fatal := make(chan error, 2)
	opts := func(o worker.Options) worker.Options {
		o.WorkerStopTimeout = 30 * time.Second
		o.MaxHeartbeatThrottleInterval = workflows.HeartbeatSendInterval
		o.OnFatalError = func(err error) { fatal <- err }
		o.Interceptors = interceptors
		return o
	}

	// A backfill or a burst of batch predictions would otherwise load
	// every file at once.
	acts := &activities.Activities{Store: store, Registry: reg, Log: log, CodeVersion: version.Commit(),
		DataSlots: semaphore.NewWeighted(int64(cfg.Temporal.DataActivities))}
	var workers []worker.Worker
	if slices.Contains(queues, "main") {
		w := worker.New(c, cfg.Temporal.TaskQueue, opts(worker.Options{}))
		workflows.RegisterMain(w, acts)
		workers = append(workers, w)
	}
	if slices.Contains(queues, "training") {
		// One heavy activity at a time: each already uses every core.
		w := worker.New(c, cfg.Temporal.TrainingQueue, opts(worker.Options{MaxConcurrentActivityExecutionSize: 1}))
		workflows.RegisterTraining(w, acts)
		workers = append(workers, w)
	}
	for _, w := range workers {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
	}
	if slices.Contains(queues, "main") {
		// A run whose workflow ended without recording its end is marked
		// by the main worker. It stops before the clients it uses close.
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { reconcile.Every(rctx, reconcileInterval, reg, c, log) })
		defer wg.Wait()
		defer cancel()
	}
	log.WithFields(logrus.Fields{"queues": queues, "task_queue": cfg.Temporal.TaskQueue, "training_queue": cfg.Temporal.TrainingQueue,
		"temporal": cfg.Temporal.Address, "code_version": acts.CodeVersion}).Info("worker started")
	state.Store(polling)
	var stopErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: waiting for running activities")
	case ferr := <-fatal:
		stopErr = fmt.Errorf("worker stopped on a fatal error: %w", ferr)
	}
	state.Store(stopping)
	// Together: each Stop waits up to WorkerStopTimeout for its running
	// activities, and one after the other would double the wait.
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(w.Stop)
	}
	wg.Wait()
	return stopErr
}

// waitFor calls connect, each time within startTimeout, until it succeeds
// or fails in a way transient does not report as passing, logging why it
// waits and backing off from 1 s to 15 s. It returns ctx's error when ctx
// ends first.
func waitFor(ctx context.Context, log logrus.FieldLogger, what string, connect func(context.Context) error, transient func(error) bool) error {
	backoff := time.Second
	for {
		cctx, cancel := context.WithTimeout(ctx, startTimeout)
		err := connect(cctx)
		cancel()
		switch {
		case err == nil || !transient(err):
			return err // a success just as ctx ends is the caller's to close
		case ctx.Err() != nil:
			return ctx.Err()
		}
		log.WithError(err).WithFields(logrus.Fields{"dependency": what, "retry_in": backoff.String()}).Warn("worker: a dependency cannot be reached yet; waiting for it")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// temporalUnavailable reports whether a failure to connect to Temporal may
// pass: not a namespace that does not exist or credentials it refuses.
func temporalUnavailable(err error) bool {
	var (
		namespace *serviceerror.NamespaceNotFound
		notFound  *serviceerror.NotFound
		denied    *serviceerror.PermissionDenied
		invalid   *serviceerror.InvalidArgument
	)
	return !errors.As(err, &namespace) && !errors.As(err, &notFound) && !errors.As(err, &denied) &&
		!errors.As(err, &invalid) && status.Code(err) != codes.Unauthenticated
}

// expireFeatures makes the bucket delete the feature files trainings write
// for their own use after days, so that retraining does not fill it. A key
// not allowed to, or a store without lifecycle rules, is worth a warning,
// not a worker that does not start.
func expireFeatures(ctx context.Context, store *artifact.Store, days int, log logrus.FieldLogger) {
	if days == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	changed, err := store.ExpireKind(ctx, artifact.Features, days)
	switch {
	case err != nil:
		log.WithError(err).WithField("days", days).Warn("feature files (features/) are not set to expire within PRODCAT_FEATURES_EXPIRE_DAYS days")
	case changed:
		log.WithFields(logrus.Fields{"bucket": store.Bucket(), "prefix": artifact.Features + "/", "days": days}).Info("bucket lifecycle set: feature files expire")
	}
}

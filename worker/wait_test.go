package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/prodcat/prodcat/internal/testenv"
)

// A worker whose S3 or Temporal does not answer yet waits for it, saying
// so, instead of exiting, and stops cleanly when told to while it waits;
// settings that waiting cannot mend stop it at once.
func TestWorkerWaitsForItsDependencies(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildWorker(ctx, t)
	closed := closedAddress(t)
	start := func(env ...string) (*exec.Cmd, string) {
		logs := filepath.Join(t.TempDir(), "worker.log")
		out, err := os.Create(logs)
		require.NoError(t, err)
		t.Cleanup(func() { out.Close() })
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, logs
	}
	for _, tc := range []struct{ dependency, env string }{
		{"s3", "S3_ENDPOINT=" + closed},
		{"temporal", "TEMPORAL_ADDRESS=" + closed},
	} {
		t.Run(tc.dependency, func(t *testing.T) {
			probes := closedAddress(t)
			cmd, logs := start(tc.env, "PRODCAT_WORKER_METRICS_ADDR="+probes)
			want := `"dependency":"` + tc.dependency + `"`
			for {
				b, _ := os.ReadFile(logs)
				if strings.Contains(string(b), want) && strings.Contains(string(b), "waiting for it") {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("the worker never said it waits for %s:\n%s", tc.dependency, b)
				case <-time.After(100 * time.Millisecond):
				}
			}
			// Alive, not ready: a liveness probe leaves it be.
			for path, want := range map[string]int{"/livez": http.StatusOK, "/healthz": http.StatusServiceUnavailable} {
				resp, err := http.Get("http://" + probes + path)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, want, resp.StatusCode, "%s: %s", path, body)
				require.Contains(t, string(body), `"starting"`)
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, cmd.Wait(), "a worker stopped while it waits exits 0")
			b, err := os.ReadFile(logs)
			require.NoError(t, err)
			require.Contains(t, string(b), `"msg":"worker stopped"`)
		})
	}
	t.Run("polling", func(t *testing.T) {
		probes := closedAddress(t)
		cmd, _ := start("PRODCAT_WORKER_METRICS_ADDR="+probes, "PRODCAT_TASK_QUEUE=wait-"+probes, "PRODCAT_TRAINING_QUEUE=wait-training-"+probes)
		get := func(path string) (int, string) {
			resp, err := http.Get("http://" + probes + path)
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for {
			if code, _ := get("/healthz"); code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("the worker never said it polls")
			case <-time.After(100 * time.Millisecond):
			}
		}
		// The SDK's own series come through: its pollers' requests.
		for {
			if _, body := get("/metrics"); strings.Contains(body, "temporal_request{") && strings.Contains(body, "temporal_num_pollers{") {
				break
			}
			select {
			case <-ctx.Done():
				_, body := get("/metrics")
				t.Fatalf("/metrics lacks the SDK's series:\n%s", body)
			case <-time.After(200 * time.Millisecond):
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait())
	})
	t.Run("stray argument", func(t *testing.T) {
		out, err := exec.Command(bin, "PRODCAT_LOG_LEVEL=debug").CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "the worker exits: %v", err)
		require.Equal(t, 2, exit.ExitCode())
		require.Contains(t, string(out), `unexpected argument "PRODCAT_LOG_LEVEL=debug"`)
	})
	t.Run("refused credentials", func(t *testing.T) {
		cmd, logs := start("S3_SECRET_KEY=not-the-secret")
		err := cmd.Wait()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "the worker exits: %v", err)
		require.Equal(t, 1, exit.ExitCode())
		b, err := os.ReadFile(logs)
		require.NoError(t, err)
		require.Contains(t, string(b), "S3 rejected the credentials")
		require.NotContains(t, string(b), "waiting for it")
	})
}

// closedAddress returns a local address nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Package stacktest checks that the local stack started by `go tool task up`
// answers: Temporal runs a workflow, MinIO stores an object and PostgreSQL
// answers a query, all configured the way the services are.
package stacktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/logging"
	"github.com/prodcat/prodcat/internal/testenv"
)

func echo(ctx workflow.Context, s string) (string, error) {
	var out string
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	err := workflow.ExecuteActivity(ctx, reverse, s).Get(ctx, &out)
	return out, err
}

func reverse(_ context.Context, s string) (string, error) {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b), nil
}

func TestStackAnswers(t *testing.T) {
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := hex.EncodeToString(suffix)

	t.Run("temporal", func(t *testing.T) {
		log, _ := logging.New(io.Discard, "", logging.Text, "warn")
		c, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: logging.NewTemporal(log)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		queue := "stacktest-" + id
		w := worker.New(c, queue, worker.Options{})
		w.RegisterWorkflow(echo)
		w.RegisterActivity(reverse)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "stacktest-" + id, TaskQueue: queue}, echo, "prodcat")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if got != "tacdorp" {
			t.Errorf("workflow returned %q, want %q", got, "tacdorp")
		}
	})

	t.Run("minio", func(t *testing.T) {
		mc, err := minio.New(cfg.S3.Endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(cfg.S3.AccessKey, cfg.S3.SecretKey, ""), Secure: cfg.S3.UseTLS, Region: cfg.S3.Region,
		})
		if err != nil {
			t.Fatal(err)
		}
		key := "stacktest/" + id
		body := []byte("hello " + id)
		if _, err := mc.PutObject(ctx, cfg.S3.Bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = mc.RemoveObject(ctx, cfg.S3.Bucket, key, minio.RemoveObjectOptions{}) }()
		obj, err := mc.GetObject(ctx, cfg.S3.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		got, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("got %q back, want %q", got, body)
		}
	})

	t.Run("postgresql", func(t *testing.T) {
		db, err := sql.Open("postgres", cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, "select $1::int + 1", 41).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 42 {
			t.Errorf("select 41+1 = %d", n)
		}
	})
}

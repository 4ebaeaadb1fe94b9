package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/sirupsen/logrus"

	"github.com/prodcat/prodcat/activities"
	"github.com/prodcat/prodcat/internal/artifact"
	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/registry"
	"github.com/prodcat/prodcat/internal/serving/servingtest"
	"github.com/prodcat/prodcat/internal/testenv"
)

// models promote refuses a version whose model file is not in the bucket:
// the API would go on serving the old one while the registry named it.
func TestPromoteChecksTheModelFile(t *testing.T) {
	ctx := context.Background()
	model, reg, store := services(t, "starter-promote-")
	v1 := servingtest.Publish(t, reg, store, model, servingtest.Model(t, "promote"), nil)
	gone := servingtest.Register(t, reg, store, model, "models/"+strings.Repeat("d", 64)+".bin", strings.Repeat("d", 64), nil)

	if _, err := run(t, "models", "promote", strconv.Itoa(v1.Version), "--reason", "first"); err != nil {
		t.Fatalf("promote a version with its file: %v", err)
	}
	_, err := run(t, "models", "promote", strconv.Itoa(gone.Version), "--reason", "second")
	if err == nil || !strings.Contains(err.Error(), "has no model file") {
		t.Errorf("promote a version without its file: %v", err)
	}
	if prod, err := reg.Alias(ctx, model, registry.AliasProduction); err != nil || prod.Version != v1.Version {
		t.Errorf("production at %+v, %v; want version %d", prod.Version, err, v1.Version)
	}
	// Nor does a rollback go to a version without its file.
	if _, err := reg.SetAlias(ctx, model, "staging", gone.Version, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetAlias(ctx, model, "staging", v1.Version, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "models", "rollback", "--alias", "staging", "--reason", "back"); err == nil || !strings.Contains(err.Error(), "has no model file") {
		t.Errorf("roll back to a version without its file: %v", err)
	}

	// Nor a version whose file was overwritten.
	digest := strings.Repeat("e", 64)
	key := "models/" + digest + ".bin"
	putRaw(t, key, []byte("not the model the key names"))
	corrupt := servingtest.Register(t, reg, store, model, key, digest, nil)
	_, err = run(t, "models", "promote", strconv.Itoa(corrupt.Version), "--reason", "third")
	if err == nil || !strings.Contains(err.Error(), "has a corrupt model file") {
		t.Errorf("promote a version with a corrupt file: %v", err)
	}
}

// putRaw writes data under key in the bucket as is, as a user overwriting
// an object by hand would.
func putRaw(t *testing.T, key string, data []byte) {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(cfg.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.S3.AccessKey, cfg.S3.SecretKey, ""), Secure: cfg.S3.UseTLS, Region: cfg.S3.Region})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(t.Context(), cfg.S3.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// predict-batch of a generic CSV reads the columns the model was trained
// on, which its signature records, and refuses the column it predicts.
func TestPredictBatchReadsTheModelsColumns(t *testing.T) {
	ctx := context.Background()
	model, reg, store := services(t, "starter-columns-")
	sig, err := json.Marshal(activities.CSVSignature{TextCols: []string{"title"}, LabelCol: "category"})
	if err != nil {
		t.Fatal(err)
	}
	v := servingtest.Register(t, reg, store, model, "models/"+strings.Repeat("c", 64)+".bin", strings.Repeat("c", 64), nil,
		func(nv *registry.NewVersion) { nv.Signature = sig })
	if _, err := reg.SetAlias(ctx, model, registry.AliasProduction, v.Version, "test", "test"); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(t.TempDir(), "new.csv")
	if err := os.WriteFile(csv, []byte("name,category\nchaise,meuble\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without --text-col, the model's own column, which this file lacks.
	if _, err := run(t, "predict-batch", "--csv", csv); err == nil || !strings.Contains(err.Error(), `missing column(s) "title"`) {
		t.Errorf("no --text-col: %v", err)
	}
	if _, err := run(t, "predict-batch", "--csv", csv, "--text-col", "category"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "the column version") {
		t.Errorf("--text-col of the label: %v", err)
	}
}

// services opens the registry and the bucket the environment names, for a
// model of a fresh name that the starter's commands then default to.
func services(t *testing.T, prefix string) (string, *registry.Registry, *artifact.Store) {
	t.Helper()
	testenv.Integration(t)
	t.Setenv("PRODCAT_LOG_LEVEL", "warn")
	model := servingtest.RandomName(prefix)
	t.Setenv("PRODCAT_MODEL_NAME", model)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), cfg.DatabaseURL, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	store, err := artifact.New(cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	return model, reg, store
}

// rollback's help says where a second rollback goes, and what makes a
// second one of the same version refused.
func TestRollbackHelpWarnsAboutTwice(t *testing.T) {
	out, err := run(t, "models", "rollback", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one promotion further back", "never to the\nversion the first rollback took out of service", "Give --expect", "--expect 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not say %q:\n%s", want, out)
		}
	}
}

// remove-alias removes an alias, not production, and says why it cannot.
func TestRemoveAlias(t *testing.T) {
	model, reg, store := services(t, "starter-unalias-")
	v := servingtest.Publish(t, reg, store, model, servingtest.Model(t, "a"), nil)
	if _, err := run(t, "models", "promote", strconv.Itoa(v.Version), "--alias", "staging", "--reason", "try it"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "models", "remove-alias", "staging", "--reason", "made by mistake")
	if err != nil {
		t.Fatal(err)
	}
	var mv registry.AliasMove
	if err := json.Unmarshal([]byte(out), &mv); err != nil || mv.From != v.Version || mv.To != 0 || mv.Reason != "made by mistake" {
		t.Errorf("removal printed %q, %v", out, err)
	}
	if _, err := reg.Alias(t.Context(), model, "staging"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("staging after the removal: %v", err)
	}
	if _, err := run(t, "models", "remove-alias", "staging", "--reason", "again"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("removing it again: %v, want not found", err)
	}
	if _, err := run(t, "models", "remove-alias", "production", "--reason", "x"); !errors.As(err, new(usageError)) {
		t.Errorf("removing production: %v, want a usage error", err)
	}
	// Conditional: not removed when it points elsewhere now.
	if _, err := run(t, "models", "promote", strconv.Itoa(v.Version), "--alias", "staging", "--reason", "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "models", "remove-alias", "staging", "--reason", "x", "--expect", strconv.Itoa(v.Version+1)); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("removal expecting another version: %v, want a conflict", err)
	}
	for _, bad := range []string{"0", "-2"} {
		if _, err := run(t, "models", "remove-alias", "staging", "--reason", "x", "--expect", bad); !errors.As(err, new(usageError)) {
			t.Errorf("--expect %s: %v, want a usage error", bad, err)
		}
	}
	if _, err := run(t, "models", "remove-alias", "staging", "--reason", "x", "--expect", strconv.Itoa(v.Version)); err != nil {
		t.Errorf("removal expecting where it points: %v", err)
	}
}

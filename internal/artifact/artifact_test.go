package artifact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/testenv"
)

func TestDigestOf(t *testing.T) {
	key, digest := Key(Model, []byte("abc"), ".bin")
	if key != "models/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.bin" {
		t.Fatalf("Key = %s", key)
	}
	got, err := DigestOf(key)
	if err != nil || got != digest {
		t.Fatalf("DigestOf(%s) = %s, %v", key, got, err)
	}
	for _, bad := range []string{"models/x.bin", "raw/", "models/" + strings.Repeat("g", 64)} {
		if _, err := DigestOf(bad); err == nil {
			t.Errorf("DigestOf(%q): want error", bad)
		}
	}
}

func store(t *testing.T, mutate func(*config.S3)) (*Store, context.Context) {
	t.Helper()
	testenv.Integration(t)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg.S3)
	}
	s, err := New(cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return s, ctx
}

func TestPutGetIsContentAddressedAndIdempotent(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("artifact test " + time.Now().String())
	ref, err := s.Put(ctx, Report, data, ".txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, Report, data, ".txt", "text/plain")
	if err != nil || again != ref {
		t.Fatalf("second Put = %+v, %v; want %+v", again, err, ref)
	}
	got, err := s.Get(ctx, ref.Key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if ok, err := s.Exists(ctx, ref.Key); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
}

// Put leaves bytes already there as they are; PutFresh writes them again,
// so that an object of a kind that expires starts its age again.
func TestPutFreshRestartsTheAge(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("fresh test " + time.Now().String())
	ref, err := s.Put(ctx, Features, data, ".bin", "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	written := func() time.Time {
		t.Helper()
		info, err := s.client.StatObject(ctx, s.bucket, ref.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info.LastModified
	}
	first := written()
	time.Sleep(1100 * time.Millisecond) // Last-Modified counts whole seconds
	if again, err := s.Put(ctx, Features, data, ".bin", "application/octet-stream"); err != nil || again != ref {
		t.Fatalf("second Put = %+v, %v", again, err)
	}
	if w := written(); !w.Equal(first) {
		t.Errorf("Put of bytes already there rewrote them: written %v, then %v", first, w)
	}
	if fresh, err := s.PutFresh(ctx, Features, data, ".bin", "application/octet-stream"); err != nil || fresh != ref {
		t.Fatalf("PutFresh = %+v, %v", fresh, err)
	}
	if w := written(); !w.After(first) {
		t.Errorf("PutFresh left the object as written at %v (now %v)", first, w)
	}
}

type writerTo func(io.Writer) (int64, error)

func (f writerTo) WriteTo(w io.Writer) (int64, error) { return f(w) }

// PutFreshFrom stores what a writer writes under the key Put gives the same
// bytes, for an object of several upload parts too; a writer that fails
// fails it, and one that writes other bytes the second time leaves an
// object Get calls corrupt.
func TestPutFreshFromMatchesPutFresh(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 20<<20+5) // more than minio-go's 16 MiB part
	copy(data, "streamed "+time.Now().String())
	for i := 64; i < len(data); i++ {
		data[i] = byte(i * 31)
	}
	src := writerTo(func(w io.Writer) (int64, error) { return bytes.NewReader(data).WriteTo(w) })
	ref, err := s.PutFreshFrom(ctx, Features, src, ".csr", "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	key, digest := Key(Features, data, ".csr")
	if ref != (Ref{Key: key, Digest: digest, Size: int64(len(data))}) {
		t.Errorf("PutFreshFrom = %+v, want key %s", ref, key)
	}
	got, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	// ReadWith streams the same bytes with their size, and hands back
	// the decoder's own error when the bytes are sound.
	var streamed []byte
	if err := s.ReadWith(ctx, key, func(r io.Reader, size int64) error {
		if size != int64(len(data)) {
			return fmt.Errorf("size %d, want %d", size, len(data))
		}
		streamed, err = io.ReadAll(r)
		return err
	}); err != nil || !bytes.Equal(streamed, data) {
		t.Fatalf("ReadWith: %d bytes, %v", len(streamed), err)
	}
	bad := errors.New("not a matrix")
	if err := s.ReadWith(ctx, key, func(r io.Reader, _ int64) error {
		_, _ = r.Read(make([]byte, 10))
		return bad
	}); err != bad {
		t.Errorf("ReadWith with a failing decoder: %v, want its error", err)
	}

	boom := errors.New("boom")
	calls := 0
	failSecond := writerTo(func(w io.Writer) (int64, error) {
		calls++
		if calls == 2 {
			n, _ := w.Write([]byte("part"))
			return int64(n), boom
		}
		n, err := w.Write([]byte("fail on the second pass " + time.Now().String()))
		return int64(n), err
	})
	if _, err := s.PutFreshFrom(ctx, Features, failSecond, ".bin", "application/octet-stream"); !errors.Is(err, boom) {
		t.Errorf("a writer failing as it sends: %v", err)
	}
	if _, err := s.PutFreshFrom(ctx, Features, writerTo(func(io.Writer) (int64, error) { return 0, boom }), ".bin", "application/octet-stream"); !errors.Is(err, boom) {
		t.Errorf("a writer failing as it is hashed: %v", err)
	}

	// A reader's WriteTo drains it: the second pass sends nothing.
	if _, err := s.PutFreshFrom(ctx, Features, bytes.NewReader(data), ".csr", "application/octet-stream"); err == nil || !strings.Contains(err.Error(), "differ from") {
		t.Errorf("a source that writes nothing the second time: %v", err)
	}
	stamp := time.Now().Format(time.RFC3339Nano)
	pass := 0
	changing := writerTo(func(w io.Writer) (int64, error) {
		pass++
		n, err := fmt.Fprintf(w, "pass %d of %s", pass, stamp) // same length, other bytes
		return int64(n), err
	})
	if _, err := s.PutFreshFrom(ctx, Features, changing, ".bin", "application/octet-stream"); err == nil || !strings.Contains(err.Error(), "differ from") {
		t.Errorf("a source that writes other bytes of the same length: %v", err)
	}
	left, _ := Key(Features, []byte("pass 1 of "+stamp), ".bin") // the key the first pass named
	if _, err := s.Get(ctx, left); !errors.Is(err, ErrNotFound) {
		t.Errorf("the object a changing source left: %v, want it removed", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.PutFreshFrom(canceled, Features, src, ".csr", "application/octet-stream"); err == nil {
		t.Error("PutFreshFrom with a canceled context: no error")
	}
}

// Get and ReadWith return every byte of objects of all sizes: minio-go's
// Stat after a read once cut them short.
func TestReadsWholeObjects(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 511, 513, 1000, 100000} {
		data := []byte(fmt.Sprintf("%d bytes of %s ", n, time.Now()))
		data = bytes.Repeat(data, n/len(data)+1)[:n]
		ref, err := s.Put(ctx, Report, data, ".txt", "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, ref.Key); err != nil || !bytes.Equal(got, data) {
			t.Errorf("Get of %d bytes: %d, %v", n, len(got), err)
		}
		var streamed []byte
		err = s.ReadWith(ctx, ref.Key, func(r io.Reader, size int64) error {
			if size != int64(n) {
				return fmt.Errorf("size %d", size)
			}
			streamed, err = io.ReadAll(r)
			return err
		})
		if err != nil || !bytes.Equal(streamed, data) {
			t.Errorf("ReadWith of %d bytes: %d, %v", n, len(streamed), err)
		}
	}
}

// PutFile stores a file under the key Put gives its bytes.
func TestPutFileMatchesPut(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("title,category\nfile upload " + time.Now().String() + ",top\n")
	path := filepath.Join(t.TempDir(), "products.csv")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := s.PutFile(ctx, Raw, path, ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	key, digest := Key(Raw, data, ".csv")
	if ref != (Ref{Key: key, Digest: digest, Size: int64(len(data))}) {
		t.Errorf("PutFile = %+v, want key %s", ref, key)
	}
	got, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if again, err := s.Put(ctx, Raw, data, ".csv", "text/csv"); err != nil || again != ref {
		t.Errorf("Put of the same bytes = %+v, %v", again, err)
	}
	if _, err := s.PutFile(ctx, Raw, filepath.Join(t.TempDir(), "missing.csv"), ".csv", "text/csv"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PutFile of a missing file: %v", err)
	}
}

// Head returns the start of an object, and nothing for an empty one
// (whose first byte a range request cannot name).
func TestHead(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("title,label\nchaise,meuble\n")
	ref, err := s.Put(ctx, Raw, data, ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Head(ctx, ref.Key, 6); err != nil || string(got) != "title," {
		t.Errorf("Head 6 = %q, %v", got, err)
	}
	empty, err := s.Put(ctx, Raw, nil, ".csv", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Head(ctx, empty.Key, 64); err != nil || len(got) != 0 {
		t.Errorf("Head of an empty object = %q, %v; want nothing and no error", got, err)
	}
}

func TestGetDetectsCorruptionAndAbsence(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	key, _ := Key(Report, []byte("the real content "+time.Now().String()), ".txt")
	bad := []byte("something else")
	if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a tampered object: %v, want ErrCorrupt", err)
	}
	if err := s.Verify(ctx, key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify of a tampered object: %v, want ErrCorrupt", err)
	}
	readAll := func(r io.Reader, size int64) error {
		b, err := io.ReadAll(r)
		if err == nil && int64(len(b)) != size {
			err = fmt.Errorf("read %d bytes of %d", len(b), size)
		}
		return err
	}
	if err := s.ReadWith(ctx, key, readAll); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadWith of a tampered object: %v, want ErrCorrupt", err)
	}
	missing, _ := Key(Report, []byte("never stored "+time.Now().String()), "")
	if err := s.ReadWith(ctx, missing, readAll); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadWith of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing object: %v, want ErrNotFound", err)
	}
	if err := s.Verify(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("Verify of a missing object: %v, want ErrNotFound", err)
	}
}

// GetMax reads an object up to a bound and refuses a larger one; Verify
// checks one without keeping it.
func TestGetMaxAndVerify(t *testing.T) {
	s, ctx := store(t, nil)
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte("ten bytes! " + time.Now().String())
	ref, err := s.Put(ctx, Report, data, ".txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMax(ctx, ref.Key, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("GetMax at the object's size = %q, %v", got, err)
	}
	if got, err := s.GetMax(ctx, ref.Key, int64(len(data))-1); !errors.Is(err, ErrTooLarge) || got != nil {
		t.Errorf("GetMax below the object's size = %q, %v; want ErrTooLarge", got, err)
	}
	if err := s.Verify(ctx, ref.Key); err != nil {
		t.Errorf("Verify of an intact object: %v", err)
	}
}

func TestWrongCredentialsAndDownServiceAreExplained(t *testing.T) {
	s, ctx := store(t, func(c *config.S3) { c.SecretKey = "not-the-secret" })
	if err := s.CheckBucket(ctx); !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "S3_SECRET_KEY") {
		t.Errorf("wrong secret: %v", err)
	}
	// Put goes on to the write when the existence check is denied (as AWS
	// denies it to keys without s3:ListBucket), and the write explains.
	if _, err := s.Put(ctx, Report, []byte("x"), ".json", "application/json"); err == nil || !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("Put with a wrong secret: %v", err)
	}
	// Exists tells wrong credentials from a missing object, though both
	// answer a HEAD with 403.
	key, _ := Key(Raw, []byte("x"), ".csv")
	if ok, err := s.Exists(ctx, key); ok || err == nil || !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("Exists with a wrong secret: %v, %v", ok, err)
	}
	s, ctx = store(t, func(c *config.S3) { c.Endpoint = "127.0.0.1:1" })
	if err := s.CheckBucket(ctx); err == nil || !strings.Contains(err.Error(), "cannot reach S3") {
		t.Errorf("closed port: %v", err)
	}
}

// A bucket that does not exist is a mistake in S3_BUCKET: CheckBucket says
// so and creates nothing.
func TestCheckBucketCreatesNothing(t *testing.T) {
	name := fmt.Sprintf("prodcat-nosuch-%d", time.Now().UnixNano())
	s, ctx := store(t, func(c *config.S3) { c.Bucket = name })
	if err := s.CheckBucket(ctx); !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), name) {
		t.Errorf("CheckBucket of a missing bucket: %v", err)
	}
	if ok, err := s.client.BucketExists(ctx, name); ok || err != nil {
		t.Errorf("bucket %s exists (%v) after CheckBucket, %v", name, ok, err)
	}
}

// ExpireKind adds its rule, leaves it alone when it is already so, and
// updates its days; a bucket with rules of its own is not touched.
func TestExpireKind(t *testing.T) {
	name := fmt.Sprintf("prodcat-lifecycle-%d", time.Now().UnixNano())
	s, ctx := store(t, func(c *config.S3) { c.Bucket = name })
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.client.RemoveBucket(context.Background(), name) })
	rules := func() map[string]lifecycle.Rule {
		t.Helper()
		cfg, err := s.client.GetBucketLifecycle(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]lifecycle.Rule{}
		for _, r := range cfg.Rules {
			m[r.ID] = r
		}
		return m
	}
	for _, step := range []struct {
		days    int
		changed bool
	}{{7, true}, {7, false}, {3, true}} {
		changed, err := s.ExpireKind(ctx, Features, step.days)
		if err != nil || changed != step.changed {
			t.Fatalf("ExpireKind(%d days) = %v, %v; want changed %v", step.days, changed, err, step.changed)
		}
		got := rules()
		r, ok := got["prodcat-expire-features"]
		if !ok || r.RuleFilter.Prefix != "features/" || int(r.Expiration.Days) != step.days || r.Status != "Enabled" || len(got) != 1 {
			t.Errorf("after ExpireKind(%d days): rules %+v", step.days, got)
		}
	}
	if _, err := s.ExpireKind(ctx, Features, 0); err == nil {
		t.Error("ExpireKind(0 days): want an error")
	}

	// An operator's rule: the lifecycle is left as it is.
	own := lifecycle.Rule{ID: "operators-own", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "predictions/"},
		Expiration: lifecycle.Expiration{Days: 90}}
	if err := s.client.SetBucketLifecycle(ctx, name, &lifecycle.Configuration{Rules: []lifecycle.Rule{own}}); err != nil {
		t.Fatal(err)
	}
	changed, err := s.ExpireKind(ctx, Features, 7)
	if changed || !errors.Is(err, ErrForeignLifecycle) || !strings.Contains(err.Error(), "operators-own") {
		t.Errorf("ExpireKind beside an operator's rule = %v, %v; want ErrForeignLifecycle naming it", changed, err)
	}
	if got := rules(); len(got) != 1 || got["operators-own"].Expiration.Days != 90 {
		t.Errorf("the operator's lifecycle changed: %+v", got)
	}
	// An operator's rule that expires features/ soon enough does the job.
	own.RuleFilter.Prefix, own.Expiration.Days = "features/", 5
	if err := s.client.SetBucketLifecycle(ctx, name, &lifecycle.Configuration{Rules: []lifecycle.Rule{own}}); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.ExpireKind(ctx, Features, 7); changed || err != nil {
		t.Errorf("ExpireKind beside an operator's rule that expires features/ in 5 days = %v, %v; want nothing to do", changed, err)
	}
	// Our rule from before beside an operator's: left as it is, and it
	// does the job when its days are few enough.
	ours := lifecycle.Rule{ID: "prodcat-expire-features", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "features/"},
		Expiration: lifecycle.Expiration{Days: 7}}
	own.RuleFilter.Prefix, own.Expiration.Days = "tmp/", 30
	if err := s.client.SetBucketLifecycle(ctx, name, &lifecycle.Configuration{Rules: []lifecycle.Rule{ours, own}}); err != nil {
		t.Fatal(err)
	}
	for _, days := range []int{7, 10} {
		if changed, err := s.ExpireKind(ctx, Features, days); changed || err != nil {
			t.Errorf("ExpireKind(%d days) with our 7-day rule beside an operator's = %v, %v; want nothing to do", days, changed, err)
		}
	}
	if changed, err := s.ExpireKind(ctx, Features, 3); changed || !errors.Is(err, ErrForeignLifecycle) || !strings.Contains(err.Error(), "within 3 days") {
		t.Errorf("ExpireKind(3 days) with our 7-day rule beside an operator's = %v, %v; want ErrForeignLifecycle", changed, err)
	}
	if got := rules(); len(got) != 2 || got["prodcat-expire-features"].Expiration.Days != 7 {
		t.Errorf("the lifecycle changed: %+v", got)
	}
}

// What may pass on a second try is told from a refusal of the request.
func TestTransient(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("put: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}): true,
		fmt.Errorf("put: %w", io.ErrUnexpectedEOF):                                             true,
		fmt.Errorf("put: %w", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}):          true,
		fmt.Errorf("put: %w", minio.ErrorResponse{Code: "Whatever", StatusCode: 502}):          true,
		fmt.Errorf("put: %w", minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: 400}):    false,
		fmt.Errorf("put: %w", ErrCredentials):                                                  false,
		errors.New("hash x: permission denied"):                                                false,
	} {
		if got := Transient(err); got != want {
			t.Errorf("Transient(%v) = %v, want %v", err, got, want)
		}
	}
}

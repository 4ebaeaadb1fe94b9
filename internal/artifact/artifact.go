// Package artifact stores prodcat's artifacts in an S3-compatible bucket.
//
// Every object is immutable and content-addressed: its key ends in the
// SHA-256 of its bytes (kind/<hex><ext>), so writing the same bytes twice,
// as a retried activity does, writes the same object, nothing is ever
// overwritten with other content, and every read is verified against the
// digest in its key.
package artifact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/prodcat/prodcat/internal/config"
)

// Kinds of artifact, used as key prefixes.
const (
	Raw         = "raw"
	Dataset     = "datasets"
	Features    = "features"
	Model       = "models"
	Report      = "reports"
	Predictions = "predictions"
)

// ErrNotFound reports a key that is not in the bucket.
var ErrNotFound = errors.New("artifact not found")

// ErrCorrupt reports an object whose bytes do not match the digest in its key.
var ErrCorrupt = errors.New("artifact digest mismatch")

// ErrTooLarge reports an object larger than the caller would read.
var ErrTooLarge = errors.New("artifact too large")

// ErrBadKey reports a key that is not content-addressed, so its bytes
// cannot be verified: objects must be put through Put (or `starter upload`).
var ErrBadKey = errors.New("artifact key is not content-addressed")

// ErrNoBucket reports that the configured bucket does not exist, and
// ErrCredentials that S3 refused the access key: mistakes in the
// configuration, which waiting does not mend.
var (
	ErrNoBucket    = errors.New("bucket does not exist")
	ErrCredentials = errors.New("S3 rejected the credentials")
)

// Ref names a stored object.
type Ref struct {
	Key    string `json:"key"`
	Digest string `json:"digest"` // hex SHA-256 of the bytes
	Size   int64  `json:"size"`
}

// Store reads and writes artifacts in one bucket.
type Store struct {
	client   *minio.Client
	bucket   string
	endpoint string
}

// New returns a store for the bucket in cfg. It does not contact the
// endpoint; call CheckBucket to check the connection and credentials.
func New(cfg config.S3) (*Store, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath, // works with MinIO, Ceph and AWS alike
	})
	if err != nil {
		return nil, fmt.Errorf("artifact store %s: %w", cfg.Endpoint, err)
	}
	return &Store{client: c, bucket: cfg.Bucket, endpoint: cfg.Endpoint}, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// CheckBucket checks that the bucket exists, which checks the connection
// and the credentials too. It is the first call a service makes, so its
// errors say plainly what is wrong. Services do not create the bucket
// (go tool task up and the compose file do): a typo in S3_BUCKET fails
// instead of scattering artifacts into a new bucket.
func (s *Store) CheckBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.wrap("check bucket "+s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("artifact: %w: %q at %s (create it, or set S3_BUCKET; the local stack's up creates it)", ErrNoBucket, s.bucket, s.endpoint)
	}
	return nil
}

// EnsureBucket creates the bucket if it does not exist, for tests and
// set-up tools.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.wrap("check bucket "+s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		if resp := minio.ToErrorResponse(err); resp.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return s.wrap("create bucket "+s.bucket, err)
	}
	return nil
}

// Key returns the content-addressed key of data of the given kind.
func Key(kind string, data []byte, ext string) (key, digest string) {
	sum := sha256.Sum256(data)
	digest = hex.EncodeToString(sum[:])
	return kind + "/" + digest + ext, digest
}

// Put stores data under its content-addressed key and returns the reference.
// Storing bytes that are already there does nothing.
func (s *Store) Put(ctx context.Context, kind string, data []byte, ext, contentType string) (Ref, error) {
	key, digest := Key(kind, data, ext)
	return s.put(ctx, Ref{Key: key, Digest: digest, Size: int64(len(data))}, bytes.NewReader(data), contentType, false)
}

// PutFresh is Put for a kind that expires (ExpireKind): it writes the
// bytes even when they are there, so that the object's age starts again
// and it is not deleted just after a caller counted on it.
func (s *Store) PutFresh(ctx context.Context, kind string, data []byte, ext, contentType string) (Ref, error) {
	key, digest := Key(kind, data, ext)
	return s.put(ctx, Ref{Key: key, Digest: digest, Size: int64(len(data))}, bytes.NewReader(data), contentType, true)
}

// PutFreshFrom is PutFresh for the bytes src writes. It calls src.WriteTo
// twice (to hash the bytes, then to send them) rather than holding them in
// memory, so a large matrix costs no second copy. src must write the same
// bytes both times, which a reader's WriteTo, draining it, does not: a
// second pass that differs is an error, and the object it left is removed.
func (s *Store) PutFreshFrom(ctx context.Context, kind string, src io.WriterTo, ext, contentType string) (Ref, error) {
	h := sha256.New()
	size, err := src.WriteTo(h)
	if err != nil {
		return Ref{}, fmt.Errorf("encode %s%s: %w", kind, ext, err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	key := kind + "/" + digest + ext
	pr, pw := io.Pipe()
	sent := &hashCount{w: pw, h: sha256.New()}
	wrote := make(chan error, 1)
	go func() {
		_, err := src.WriteTo(sent)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
		wrote <- err
	}()
	ref, err := s.put(ctx, Ref{Key: key, Digest: digest, Size: size}, pr, contentType, true)
	// A put that stopped reading must not leave src blocked on the pipe.
	pr.CloseWithError(errPutEnded)
	werr := <-wrote
	differ := werr == nil && (sent.n != size || hex.EncodeToString(sent.h.Sum(nil)) != digest)
	switch {
	case werr != nil && !errors.Is(werr, errPutEnded):
		// src's own failure, which is why the put failed if it did.
		return Ref{}, fmt.Errorf("encode %s%s: %w", kind, ext, werr)
	case err != nil && !differ:
		return Ref{}, err
	case differ || werr != nil:
		// src wrote other bytes, fewer, or (still writing when the put
		// had its size) more. Whatever the put left under the key is not
		// what the key names.
		if err == nil {
			_ = s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		}
		return Ref{}, fmt.Errorf("encode %s%s: the bytes sent differ from the %d hashed", kind, ext, size)
	}
	return ref, nil
}

// hashCount passes writes on to w, hashing and counting what w took.
type hashCount struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *hashCount) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// errPutEnded is what a PutFreshFrom source writing into a put that has
// stopped reading gets.
var errPutEnded = errors.New("artifact: the upload has ended")

// PutFile stores the file at path as Put stores bytes, reading it twice (to
// hash it, then to send it) rather than holding it in memory. The file must
// not change meanwhile; if it does, Get reports the object as corrupt.
func (s *Store) PutFile(ctx context.Context, kind, path, ext, contentType string) (Ref, error) {
	f, err := os.Open(path)
	if err != nil {
		return Ref{}, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return Ref{}, fmt.Errorf("hash %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Ref{}, err
	}
	digest := hex.EncodeToString(h.Sum(nil))
	return s.put(ctx, Ref{Key: kind + "/" + digest + ext, Digest: digest, Size: size}, f, contentType, false)
}

// put stores the ref.Size bytes of r under ref.Key unless they are there
// and fresh is false.
func (s *Store) put(ctx context.Context, ref Ref, r io.Reader, contentType string, fresh bool) (Ref, error) {
	key, digest := ref.Key, ref.Digest
	if !fresh {
		info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		switch code := minio.ToErrorResponse(err).Code; {
		case err == nil && info.Size == ref.Size:
			return ref, nil
		case err == nil:
			// A wrong size under a digest key can only be a damaged
			// object; replace it.
		case code != "NoSuchKey" && code != "AccessDenied":
			// AccessDenied is what AWS answers for a missing object to a
			// key without s3:ListBucket; the write says whether it may
			// write.
			return Ref{}, s.wrap("stat "+key, err)
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, r, ref.Size, minio.PutObjectOptions{
		ContentType:    contentType,
		SendContentMd5: true,
		UserMetadata:   map[string]string{"sha256": digest},
	})
	if err != nil {
		return Ref{}, s.wrap("put "+key, err)
	}
	return ref, nil
}

// Get returns the bytes of key after checking them against the digest the
// key carries.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return s.GetMax(ctx, key, -1)
}

// GetMax is Get for an object the caller holds in memory only up to max
// bytes: a larger one is ErrTooLarge, read no further than that. A
// negative max is no bound.
func (s *Store) GetMax(ctx context.Context, key string, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.read(ctx, key, &buf, max); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadWith passes the bytes of key, and how many there are, to decode as
// they arrive, so a large object is decoded without a copy of its bytes in
// memory, then checks them against the digest the key carries. It returns
// the store's errors as Get does, decode's own as they are, and ErrCorrupt
// when the bytes do not match, even if decode took them.
func (s *Store) ReadWith(ctx context.Context, key string, decode func(r io.Reader, size int64) error) error {
	obj, want, err := s.open(ctx, key)
	if err != nil {
		return err
	}
	defer obj.Close()
	// Stat before reading: after a read, minio-go's Stat counts only
	// what is left, and its reads stop at that. It costs a HEAD request.
	info, err := obj.Stat()
	if err != nil {
		return s.wrap("get "+key, err)
	}
	h := sha256.New()
	src := &readErr{r: io.TeeReader(obj, h)}
	derr := decode(src, info.Size)
	if src.err != nil {
		return s.wrap("get "+key, src.err) // why decode failed, if it did
	}
	// Hash what decode left unread, so a corrupt object is named as such
	// rather than by the decode error it caused.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return s.wrap("get "+key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("get %s: %w: content hashes to %s", key, ErrCorrupt, got)
	}
	return derr
}

// readErr keeps the first error other than io.EOF its reader returns.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Verify checks that key is in the bucket and that its bytes match the
// digest it carries, reading them through without keeping them.
func (s *Store) Verify(ctx context.Context, key string) error {
	return s.read(ctx, key, io.Discard, -1)
}

// read copies the bytes of key to w, at most max of them when max is not
// negative, and checks them against the digest the key carries. w may
// have taken bytes when it fails.
func (s *Store) read(ctx context.Context, key string, w io.Writer, max int64) error {
	obj, want, err := s.open(ctx, key)
	if err != nil {
		return err
	}
	defer obj.Close()
	if g, ok := w.(grower); ok {
		// One allocation of the object's size rather than a buffer that
		// doubles its way there, holding the old one as it copies. Stat
		// costs a HEAD request, worth it for the bytes kept; one that
		// fails is the copy's to report.
		if info, err := obj.Stat(); err == nil {
			if max >= 0 && info.Size > max {
				return fmt.Errorf("get %s: %w: %d bytes, more than %d", key, ErrTooLarge, info.Size, max)
			}
			g.Grow(int(info.Size))
		}
	}
	var r io.Reader = obj
	if max >= 0 {
		r = io.LimitReader(obj, max+1)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err != nil {
		return s.wrap("get "+key, err)
	}
	if max >= 0 && n > max {
		return fmt.Errorf("get %s: %w: more than %d bytes", key, ErrTooLarge, max)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("get %s: %w: content hashes to %s", key, ErrCorrupt, got)
	}
	return nil
}

// open starts reading key and returns the object and the digest its key
// names. The caller closes the object.
func (s *Store) open(ctx context.Context, key string) (*minio.Object, string, error) {
	want, err := DigestOf(key)
	if err != nil {
		return nil, "", err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", s.wrap("get "+key, err)
	}
	return obj, want, nil
}

// grower is a writer that can make room for n more bytes at once.
type grower interface {
	io.Writer
	Grow(n int)
}

// Head returns up to the first n bytes of key, unchecked: a glance at a
// file's start, such as its header row, not its content.
func (s *Store) Head(ctx context.Context, key string, n int64) ([]byte, error) {
	data, err := s.firstBytes(ctx, key, n)
	if minio.ToErrorResponse(err).Code == "InvalidRange" {
		return nil, nil // an empty object has no first byte to range over
	}
	if err != nil {
		return nil, s.wrap("get "+key, err)
	}
	return data, nil
}

// firstBytes reads up to the first n bytes of key with a range request; its
// error is S3's own, for the caller to read the code of.
func (s *Store) firstBytes(ctx context.Context, key string, n int64) ([]byte, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(0, n-1); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(io.LimitReader(obj, n))
}

// Exists reports whether key is in the bucket.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey":
		return false, nil
	case "AccessDenied":
		// A HEAD answer has no body, so a 403 reads as AccessDenied both
		// for wrong credentials and for a missing object asked by
		// credentials without s3:ListBucket (AWS). A one-byte GET says
		// which.
		_, gerr := s.firstBytes(ctx, key, 1)
		switch code := minio.ToErrorResponse(gerr).Code; {
		case gerr == nil, code == "InvalidRange": // there, maybe empty
			return true, nil
		case code == "NoSuchKey", code == "AccessDenied":
			return false, nil
		default:
			return false, s.wrap("stat "+key, gerr)
		}
	}
	return false, s.wrap("stat "+key, err)
}

// DigestOf returns the hex SHA-256 carried by a content-addressed key.
func DigestOf(key string) (string, error) {
	base := path.Base(key)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	if len(base) != sha256.Size*2 {
		return "", fmt.Errorf("%w: %q (want kind/<sha256 hex>[.ext], as `starter upload` writes)", ErrBadKey, key)
	}
	if _, err := hex.DecodeString(base); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	return base, nil
}

// wrap turns S3 errors into messages that say what to fix.
func (s *Store) wrap(op string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchBucket":
		return fmt.Errorf("%s in bucket %s: %w", op, s.bucket, ErrNotFound)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied":
		return fmt.Errorf("%s: %w at %s (check S3_ACCESS_KEY and S3_SECRET_KEY, and that the key may read, write and list bucket %s): %s", op, ErrCredentials, s.endpoint, s.bucket, resp.Message)
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) {
		return fmt.Errorf("%s: cannot reach S3 at %s (is the S3 server up?): %w", op, s.endpoint, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Transient reports whether err, from the store, may pass if the call is
// made again: S3 that cannot be reached or drops the connection, or
// answers that it is busy or failing (5xx, SlowDown). A refusal of the
// request itself (credentials, a missing bucket, an object too large, a
// bad argument) is not.
func Transient(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	switch resp.Code {
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioServerNotInitialized":
		return true
	}
	return resp.StatusCode >= 500
}

// ErrForeignLifecycle reports a bucket whose lifecycle has rules that
// prodcat did not write: ExpireKind leaves it alone rather than rewrite
// them, since a read and a write back through minio-go's types may not
// keep every detail of a rule (several transitions, say).
var ErrForeignLifecycle = errors.New("the bucket has lifecycle rules of its own")

// ExpireKind makes the bucket delete the objects of kind days after they
// were written, through a lifecycle rule of its own (ID
// prodcat-expire-<kind>). It reports whether it changed the bucket's
// lifecycle: a rule already so is left alone, and a lifecycle with rules
// of others is not touched (ErrForeignLifecycle, naming the rule to add).
func (s *Store) ExpireKind(ctx context.Context, kind string, days int) (changed bool, err error) {
	if days <= 0 {
		return false, fmt.Errorf("expire %s: %d days: want at least 1", kind, days)
	}
	op := "set the lifecycle of bucket " + s.bucket
	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return false, s.lifecycleError(op, err)
		}
		cfg = lifecycle.NewConfiguration()
	}
	rule := lifecycle.Rule{
		ID:         "prodcat-expire-" + kind,
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Prefix: kind + "/"},
		Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
	}
	i := slices.IndexFunc(cfg.Rules, func(r lifecycle.Rule) bool { return r.ID == rule.ID })
	if i >= 0 && cfg.Rules[i].Status == rule.Status && cfg.Rules[i].RuleFilter.Prefix == rule.RuleFilter.Prefix && cfg.Rules[i].Expiration.Days == rule.Expiration.Days {
		return false, nil
	}
	if j := slices.IndexFunc(cfg.Rules, func(r lifecycle.Rule) bool { return r.ID != rule.ID }); j >= 0 {
		// Rules of others: never written back. A rule that expires the
		// kind soon enough, ours from before or theirs, does the job.
		for _, r := range cfg.Rules {
			if expires(r, rule.RuleFilter.Prefix, days) {
				return false, nil
			}
		}
		return false, fmt.Errorf("%s: %w (%q) and none expires %s/ within %d days: add one that does (say %q) yourself, or set PRODCAT_FEATURES_EXPIRE_DAYS=0",
			op, ErrForeignLifecycle, cfg.Rules[j].ID, kind, days, rule.ID)
	}
	if i < 0 {
		cfg.Rules = append(cfg.Rules, rule)
	} else {
		cfg.Rules[i] = rule
	}
	if err := s.client.SetBucketLifecycle(ctx, s.bucket, cfg); err != nil {
		return false, s.lifecycleError(op, err)
	}
	return true, nil
}

// expires reports whether rule r deletes every object under prefix within
// days of its writing.
func expires(r lifecycle.Rule, prefix string, days int) bool {
	f := r.RuleFilter
	if r.Status != "Enabled" || f.Tag.Key != "" || len(f.And.Tags) > 0 || f.ObjectSizeGreaterThan > 0 || f.ObjectSizeLessThan > 0 ||
		f.And.ObjectSizeGreaterThan > 0 || f.And.ObjectSizeLessThan > 0 {
		return false
	}
	p := f.Prefix
	if p == "" {
		p = f.And.Prefix
	}
	if p == "" {
		p = r.Prefix
	}
	return strings.HasPrefix(prefix, p) && r.Expiration.Days > 0 && int(r.Expiration.Days) <= days
}

// lifecycleError is wrap for lifecycle calls, which a key that may read and
// write objects may still not be allowed to make.
func (s *Store) lifecycleError(op string, err error) error {
	if resp := minio.ToErrorResponse(err); resp.Code == "AccessDenied" || resp.Code == "NotImplemented" {
		return fmt.Errorf("%s: %s refused (%s): the key needs s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration on the bucket, or the store does not support lifecycle rules", op, s.endpoint, resp.Code)
	}
	return s.wrap(op, err)
}

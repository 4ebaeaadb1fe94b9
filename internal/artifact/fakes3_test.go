package artifact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prodcat/prodcat/internal/config"
	"github.com/prodcat/prodcat/internal/sparse"
)

// fakeS3 is just enough of S3 for one object: GET (optionally cut short),
// HEAD, and single-request PUT, refused with refusePut.
type fakeS3 struct {
	mu        sync.Mutex
	body      []byte
	cutAt     int // GET: drop the connection after this many bytes; < 0 never
	refusePut bool
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	switch r.Method {
	case http.MethodHead:
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
	case http.MethodGet:
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
		if f.cutAt < 0 {
			w.Write(f.body)
			return
		}
		w.Write(f.body[:f.cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection
	case http.MethodPut:
		if f.refusePut {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>`)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err == nil && strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
			b, err = unchunk(b)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.body = b
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// unchunk decodes an aws-chunked body: hex size;chunk-signature=…\r\n,
// the bytes, \r\n, until a chunk of size 0.
func unchunk(b []byte) ([]byte, error) {
	var out []byte
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return nil, errors.New("chunk header without CRLF")
		}
		hexSize, _, _ := bytes.Cut(line, []byte(";"))
		var n int
		if _, err := fmt.Sscanf(string(hexSize), "%x", &n); err != nil || n > len(rest) {
			return nil, fmt.Errorf("chunk size %q", hexSize)
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, rest[:n]...)
		b = bytes.TrimPrefix(rest[n:], []byte("\r\n"))
	}
}

func fakeStore(t *testing.T, f *fakeS3) *Store {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s, err := New(config.S3{Endpoint: strings.TrimPrefix(srv.URL, "http://"), AccessKey: "key", SecretKey: "secret", Bucket: "bucket", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func matrixBytes(t *testing.T) []byte {
	t.Helper()
	m := sparse.NewMatrix(1 << 20)
	for i := range 20000 {
		m.Append(sparse.Vector{Idx: []uint32{uint32(i), uint32(i + 7)}, Val: []float32{1, 2}})
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digestKey(b []byte) string {
	sum := sha256.Sum256(b)
	return Features + "/" + hex.EncodeToString(sum[:]) + ".csr"
}

// readMatrix decodes key as the train activity does, returning the
// decoder's error apart.
func readMatrix(s *Store, key string) (err, decodeErr error) {
	err = s.ReadWith(context.Background(), key, func(r io.Reader, size int64) error {
		_, decodeErr = sparse.ReadMatrix(r, size)
		return decodeErr
	})
	return err, decodeErr
}

// ReadWith tells a download cut short (the store's error, which may pass),
// a corrupt object and a sound one that does not decode apart.
func TestReadWithClassifiesFailures(t *testing.T) {
	b := matrixBytes(t)
	key := digestKey(b)

	f := &fakeS3{body: b, cutAt: -1}
	s := fakeStore(t, f)
	if err, _ := readMatrix(s, key); err != nil {
		t.Fatalf("a sound object: %v", err)
	}
	if got, err := s.Get(context.Background(), key); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}

	for _, cut := range []int{0, 10, 70000, len(b) - 1} {
		err, decodeErr := readMatrix(fakeStore(t, &fakeS3{body: b, cutAt: cut}), key)
		if err == nil || (decodeErr != nil && errors.Is(err, decodeErr)) || !Transient(err) {
			t.Errorf("a download cut at byte %d: %v (decoder: %v); want the store's error, which may pass", cut, err, decodeErr)
		}
	}

	bad := bytes.Clone(b)
	bad[len("PCSPMAT")+3] = 0xff // the row pointers' length: undecodable
	if err, _ := readMatrix(fakeStore(t, &fakeS3{body: bad, cutAt: -1}), key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a corrupt, undecodable object: %v, want ErrCorrupt", err)
	}
	err, decodeErr := readMatrix(fakeStore(t, &fakeS3{body: bad, cutAt: -1}), digestKey(bad))
	if err == nil || decodeErr == nil || !errors.Is(err, decodeErr) {
		t.Errorf("a sound object that does not decode: %v, want the decoder's error", err)
	}
}

type passes struct {
	calls int
	write func(call int, w io.Writer) (int64, error)
}

func (p *passes) WriteTo(w io.Writer) (int64, error) {
	p.calls++
	return p.write(p.calls, w)
}

// PutFreshFrom sends the bytes it hashed, refuses a source whose second
// pass differs, and returns when S3 refuses the upload.
func TestPutFreshFromSecondPass(t *testing.T) {
	data := []byte("the matrix " + time.Now().String())
	same := &passes{write: func(_ int, w io.Writer) (int64, error) {
		n, err := w.Write(data)
		return int64(n), err
	}}
	f := &fakeS3{cutAt: -1}
	s := fakeStore(t, f)
	if _, err := s.PutFreshFrom(context.Background(), Features, same, ".csr", "application/octet-stream"); err != nil || !bytes.Equal(f.body, data) {
		t.Fatalf("PutFreshFrom: %v; S3 got %q", err, f.body)
	}
	for name, second := range map[string][]byte{
		"longer":  append(bytes.Clone(data), "and more"...),
		"shorter": data[:5],
		"other":   bytes.ToUpper(data),
	} {
		src := &passes{write: func(call int, w io.Writer) (int64, error) {
			b := data
			if call == 2 {
				b = second
			}
			n, err := w.Write(b)
			return int64(n), err
		}}
		if _, err := s.PutFreshFrom(context.Background(), Features, src, ".csr", "application/octet-stream"); err == nil {
			t.Errorf("a %s second pass: no error", name)
		}
	}
	big := make([]byte, 1<<20)
	refused := fakeStore(t, &fakeS3{cutAt: -1, refusePut: true})
	src := &passes{write: func(_ int, w io.Writer) (int64, error) { return bytes.NewReader(big).WriteTo(w) }}
	if _, err := refused.PutFreshFrom(context.Background(), Features, src, ".csr", "application/octet-stream"); err == nil || !strings.Contains(err.Error(), "Access Denied") {
		t.Errorf("a refused upload: %v", err)
	}
}

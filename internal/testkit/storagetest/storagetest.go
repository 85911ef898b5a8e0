// Package storagetest starts real cloud bucket servers on 127.0.0.1 for tests
// and hands out bucket URLs that storage.OpenURL (and so storage.Open and the
// whole server) understands:
//
//   - GCS: github.com/fsouza/fake-gcs-server, in process. gocloud's gcsblob
//     reaches it through STORAGE_EMULATOR_HOST, which StartGCS sets with
//     t.Setenv; tests using it therefore cannot call t.Parallel.
//   - S3: a MinIO server process (the minio binary from PATH or
//     $(go env GOPATH)/bin). StartMinIO skips the test when it is absent.
//     Credentials reach s3blob through AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY, also set with t.Setenv.
//   - Azure: an Azurite process (azurite-blob, pinned in .ci/npm and found
//     through nodetest). StartAzurite skips the test when node or Azurite is
//     missing. Credentials (Azurite's development account) reach azureblob
//     through AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, set with t.Setenv.
//
// Like StartMinIO, StartAzurite fails instead of skipping under CI=true.
//
// Nothing here talks to anything but loopback.
package storagetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"pkgstore/internal/storage"
)

// bucketSeq makes bucket names unique within the test process.
var bucketSeq atomic.Int64

// bucketName returns a fresh name valid as a GCS or S3 bucket and as an Azure
// container (lowercase letters, digits and dashes, 3 to 63 characters).
func bucketName() string {
	return fmt.Sprintf("pkgstore-test-%d-%d", os.Getpid(), bucketSeq.Add(1))
}

// Server is a running bucket server that makes fresh, empty buckets.
type Server interface {
	// NewBucket creates a bucket and returns a URL storage.OpenURL opens.
	NewBucket(t testing.TB) string
}

// Backend names a kind of bucket server and starts one for a test.
type Backend struct {
	Name  string // "gcs", "s3" or "azure"
	Start func(t testing.TB) Server
}

// Backends are the real cloud servers tests can run against: fake-gcs-server
// for GCS, MinIO for S3 and Azurite for Azure. Starting MinIO or Azurite
// skips the test when the program is missing (fails it under CI=true).
var Backends = []Backend{
	{"gcs", func(t testing.TB) Server { t.Helper(); return StartGCS(t) }},
	{"s3", func(t testing.TB) Server { t.Helper(); return StartMinIO(t) }},
	{"azure", func(t testing.TB) Server { t.Helper(); return SharedAzurite(t) }},
}

// GCS is a running fake-gcs-server.
type GCS struct {
	Server *fakestorage.Server
	Host   string // host:port, the value of STORAGE_EMULATOR_HOST
}

// StartGCS starts fake-gcs-server in this process on 127.0.0.1 (plain HTTP,
// random port, memory backend) and points gcsblob at it by setting
// STORAGE_EMULATOR_HOST for the rest of the test. The server stops when the
// test ends.
func StartGCS(t testing.TB) *GCS {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http",
		Host:   "127.0.0.1",
		// Port 0 keeps httptest's own listener: 127.0.0.1, random port.
		// The Go client reads objects through the XML API at
		// http://HOST/BUCKET/OBJECT; the server only routes that path form
		// for requests whose host (port aside) is PublicHost.
		PublicHost: "127.0.0.1",
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatalf("fake-gcs-server URL %q: %v", srv.URL(), err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Fatalf("fake-gcs-server listens on %s, want loopback", u.Host)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	return &GCS{Server: srv, Host: u.Host}
}

// NewBucket creates an empty bucket and returns its gs:// URL.
func (g *GCS) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName()
	g.Server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	return "gs://" + name
}

// MinIO is a running MinIO server.
type MinIO struct {
	Endpoint string // http://127.0.0.1:PORT
	User     string // root user, also the S3 access key
	Password string // root password, also the S3 secret key
	client   *s3.Client
}

// Region is the region the S3 URLs name; MinIO accepts any.
const Region = "us-east-1"

// MinIOBinary returns the path of the minio binary: from PATH, else from
// $(go env GOPATH)/bin. It returns "" when there is none.
func MinIOBinary() string {
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return ""
		}
		gopath = strings.TrimSpace(string(out))
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// InstallHint says how to get the binary StartMinIO needs.
const InstallHint = "GOFLAGS=-mod=mod go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// StartMinIO starts a MinIO server on 127.0.0.1 with its data in a temporary
// folder, sets the AWS credential variables s3blob reads, and stops the
// server when the test ends. Without a minio binary it skips the test, or
// fails it under CI=true (.ci/run installs MinIO).
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := MinIOBinary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no minio binary in PATH or $(go env GOPATH)/bin: .ci/run installs it (%s)", InstallHint)
		}
		t.Skipf("minio binary not found in PATH or $(go env GOPATH)/bin; install it with: %s (in CI, CI=true, this fails instead)", InstallHint)
	}
	m := &MinIO{User: "pkgstore-test", Password: "pkgstore-test-secret"}
	// The port is found by binding and releasing it, so another process may
	// take it in between; retry with a fresh port in that case.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		if lastErr = m.start(t, bin, port); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start minio: %v", lastErr)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Password)
	t.Setenv("AWS_SESSION_TOKEN", "")
	// Never reach for EC2 instance metadata, nor shared config files.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "aws-credentials"))
	m.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		Region:       Region,
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: m.User, SecretAccessKey: m.Password}, nil
		}),
	})
	return m
}

// start runs minio on port and waits until it answers its liveness probe.
func (m *MinIO) start(t testing.TB, bin string, port int) error {
	t.Helper()
	base := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "server", filepath.Join(base, "data"),
		"--address", addr,
		"--console-address", "127.0.0.1:0",
		"--certs-dir", filepath.Join(base, "certs"),
		"--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.User,
		"MINIO_ROOT_PASSWORD="+m.Password,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"HOME="+base,
	)
	endpoint := "http://" + addr
	if err := runServer(t, "minio", cmd, filepath.Join(base, "minio.log"), addr, func() bool { return live(endpoint) }); err != nil {
		return err
	}
	m.Endpoint = endpoint
	return nil
}

// live reports whether MinIO's liveness endpoint answers 200.
func live(endpoint string) bool {
	resp, err := http.Get(endpoint + "/minio/health/live")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NewBucket creates an empty bucket and returns its s3:// URL, with the query
// parameters s3blob needs to talk to MinIO: the endpoint, path-style
// addressing (no bucket subdomains on 127.0.0.1), plain HTTP and a region.
func (m *MinIO) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s on minio: %v", name, err)
	}
	return m.BucketURL(name)
}

// BucketURL returns the s3:// URL of an existing bucket on this server.
func (m *MinIO) BucketURL(name string) string {
	q := url.Values{}
	q.Set("endpoint", m.Endpoint)
	q.Set("use_path_style", "true")
	q.Set("disable_https", "true")
	q.Set("region", Region)
	return "s3://" + name + "?" + q.Encode()
}

// Open opens rawURL with storage.OpenURL and closes it when the test ends.
func Open(t testing.TB, rawURL string) *storage.Bucket {
	t.Helper()
	b, err := storage.OpenURL(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close %s: %v", rawURL, err)
		}
	})
	return b
}

// OpenData opens the two folder buckets of DIR (DIR/public and
// DIR/internal, as `serve --data DIR`) and closes them when the test ends.
func OpenData(t testing.TB, dir string) *storage.Buckets {
	t.Helper()
	b, err := storage.Open(context.Background(), storage.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close %s: %v", dir, err)
		}
	})
	return b
}

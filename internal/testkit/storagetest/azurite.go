package storagetest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"pkgstore/internal/testkit/nodetest"
	"pkgstore/internal/testkit/processtest"
)

// Azurite's well-known development account (the same on every install;
// https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
// Every Azurite server in a test process uses it, which matters because
// gocloud's azblob:// opener reads the credential variables only once per
// process.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite Blob server.
type Azurite struct {
	Host     string // 127.0.0.1:PORT, the value of the domain URL parameter
	Endpoint string // http://127.0.0.1:PORT/devstoreaccount1, the service URL
	cred     *azblob.SharedKeyCredential
}

// StartAzurite starts azurite-blob (the npm package pinned in .ci/npm) on
// 127.0.0.1 with its data in a temporary folder, sets the credential
// variables gocloud's azureblob reads (AZURE_STORAGE_ACCOUNT and
// AZURE_STORAGE_KEY, clearing the other ways in), and stops the server when
// the test ends. Without node or Azurite it skips the test, or fails it
// under CI=true (.ci/run installs them). Tests using it cannot call
// t.Parallel (t.Setenv).
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin := nodetest.Bin(t, "azurite", "azurite-blob")
	a, err := startAzurite(t, bin)
	if err != nil {
		t.Fatalf("start azurite: %v", err)
	}
	setAzuriteEnv(t)
	return a
}

// shared is the Azurite server of SharedAzurite, one per test process.
var shared struct {
	once sync.Once
	a    *Azurite
	err  error
}

// SharedAzurite is StartAzurite for tests that only need fresh containers
// (storagetest.Backends): one server per test process, started by the
// first test that asks, so that each test does not pay Azurite's start (7
// to 13 s on a busy 2-core machine). Containers are new for each
// NewBucket, so tests see nothing of each other's. The server stops when
// processtest.Main ends, and in any case dies with the test process.
func SharedAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin := nodetest.Bin(t, "azurite", "azurite-blob")
	shared.once.Do(func() { shared.a, shared.err = startAzurite(processtest.Wrap(t), bin) })
	if shared.err != nil {
		t.Fatalf("start the shared azurite: %v", shared.err)
	}
	setAzuriteEnv(t)
	return shared.a
}

func startAzurite(t testing.TB, bin string) (*Azurite, error) {
	cred, err := azblob.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		return nil, fmt.Errorf("azurite credential: %w", err)
	}
	a := &Azurite{cred: cred}
	// As for MinIO, the port is found by binding and releasing it; retry
	// with a fresh one if another process took it in between.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		if lastErr = a.start(t, bin, port); lastErr == nil {
			return a, nil
		}
	}
	return nil, lastErr
}

// setAzuriteEnv points gocloud's azureblob at Azurite's account for t.
func setAzuriteEnv(t testing.TB) {
	t.Setenv("AZURE_STORAGE_ACCOUNT", AzuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", AzuriteKey)
	for _, v := range []string{
		"AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING", "AZURE_STORAGE_DOMAIN",
		"AZURE_STORAGE_PROTOCOL", "AZURE_STORAGE_IS_CDN", "AZURE_STORAGE_IS_LOCAL_EMULATOR",
	} {
		t.Setenv(v, "")
	}
}

// start runs azurite-blob on port and waits until it answers HTTP.
func (a *Azurite) start(t testing.TB, bin string, port int) error {
	base := t.TempDir()
	host := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin,
		"--blobHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(port),
		"--location", filepath.Join(base, "data"),
		"--silent",
		// It would otherwise send usage reports over the network.
		"--disableTelemetry",
		// The SDK in go.mod (azblob v1.8) may speak a newer x-ms-version
		// than this Azurite knows; the blob operations pkgstore uses are
		// older than both.
		"--skipApiVersionCheck",
		// Always read the account from the path (127.0.0.1/ACCOUNT/...),
		// as gocloud addresses an emulator.
		"--disableProductStyleUrl",
	)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "HOME="+base, "AZURITE_ACCOUNTS=")
	endpoint := "http://" + host + "/" + AzuriteAccount
	if err := runServer(t, "azurite", cmd, filepath.Join(base, "azurite.log"), host, func() bool { return answers(endpoint) }); err != nil {
		return err
	}
	a.Host, a.Endpoint = host, endpoint
	return nil
}

// answers reports whether an HTTP server answers at endpoint (any status:
// Azurite refuses the unsigned request, which is enough to know it is up).
func answers(endpoint string) bool {
	c := http.Client{Timeout: 2 * time.Second} // a hung start is retried, not waited on
	resp, err := c.Get(endpoint + "?comp=properties&restype=service")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// NewBucket creates an empty container and returns its azblob:// URL.
func (a *Azurite) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName()
	c, err := a.Container(name)
	if err != nil {
		t.Fatalf("azurite container client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("create container %s on azurite: %v", name, err)
	}
	return a.BucketURL(name)
}

// Container returns an SDK client for a container on this server, for tests
// that look under the driver.
func (a *Azurite) Container(name string) (*container.Client, error) {
	u, err := url.JoinPath(a.Endpoint, name)
	if err != nil {
		return nil, err
	}
	opts := &container.ClientOptions{}
	// Loopback only: a refused request is a bug, not a blip to retry.
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	c, err := container.NewClientWithSharedKeyCredential(u, a.cred, opts)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	return c, nil
}

// BucketURL returns the azblob:// URL of an existing container on this
// server: plain HTTP to 127.0.0.1:PORT, with the account in the path
// (localemu=true), as gocloud's azureblob addresses an emulator.
func (a *Azurite) BucketURL(name string) string {
	q := url.Values{}
	q.Set("domain", a.Host)
	q.Set("protocol", "http")
	q.Set("localemu", "true")
	return "azblob://" + name + "?" + q.Encode()
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pkgstore/internal/client/logcheck"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
)

// logReport is what verify --log-key proved (verify --format json).
type logReport struct {
	Record   int64  `json:"record"`
	TreeSize int64  `json:"tree_size"`
	TreeHash string `json:"tree_hash"`
	SHA256   string `json:"sha256"`
}

// verifyLogged proves that file's revision is in the store's
// transparency log, with file's SHA-256, against a tree head signed by
// the log's key (logKey: the verifier key or a file holding it).
func verifyLogged(ctx context.Context, out io.Writer, rep *verifyReport, file, registryURL, logKey string) error {
	if registryURL == "" {
		return usageError("--log-key needs --registry")
	}
	v, err := translog.ParseVerifier(logKey)
	if err != nil {
		return usageError("--log-key: %v", err)
	}
	id, err := packageid.ParseZipName(filepath.Base(file))
	if err != nil {
		return usageError("--log-key needs FILE to be NAME-VERSION.zip: %v", err)
	}
	sum, err := fileSHA256(file)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	lk, err := logcheck.New(registryURL, v, nil).CheckRevision(ctx, id, sum)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", file, err))
	}
	rep.Log = &logReport{Record: lk.ID, TreeSize: lk.Tree.N, TreeHash: lk.Tree.Hash.String(), SHA256: sum}
	fmt.Fprintf(out, "%s: in the transparency log as record %d of the signed tree of size %d (%s), sha256 %s\n", file, lk.ID, lk.Tree.N, lk.Tree.Hash, sum)
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

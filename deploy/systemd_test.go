package deploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tool returns the path of a command, skipping when it is missing except
// under CI=true (.ci/run installs it), where a missing tool fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found under CI=true (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed (.ci/run installs it)", name)
	}
	return p
}

// unitCopy writes the unit into a temporary folder with ExecStart's
// binary replaced by one that exists here (verify checks it does).
func unitCopy(t *testing.T, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("systemd", "pkgstore.service"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(data), "/usr/local/bin/pkgstore", exe)
	if edit != nil {
		unit = edit(unit)
	}
	p := filepath.Join(t.TempDir(), "pkgstore.service")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func analyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, "systemd-analyze"), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSystemdUnit: `systemd-analyze verify` accepts the unit without a
// word (and does complain about a misspelt key, so the check can fail),
// the sandboxing options are there, and `systemd-analyze security` rates
// its exposure low.
func TestSystemdUnit(t *testing.T) {
	if out, err := analyze(t, "verify", unitCopy(t, nil)); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	bad := unitCopy(t, func(u string) string { return strings.Replace(u, "NoNewPrivileges=", "NoNewPrivilege=", 1) })
	if out, _ := analyze(t, "verify", bad); !strings.Contains(out, "NoNewPrivilege") {
		t.Errorf("verify did not notice a misspelt key: %q", out)
	}
	data, err := os.ReadFile(filepath.Join("systemd", "pkgstore.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=pkgstore", "NoNewPrivileges=yes",
		"ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "RestrictAddressFamilies="} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	out, err := analyze(t, "security", "--offline=true", unitCopy(t, nil))
	m := regexp.MustCompile(`Overall exposure level for pkgstore.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security exposure: %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0:\n%s", score, out)
	}
}

package storagetest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// runServer starts cmd (a bucket server writing its output to a new file
// at logPath), waits up to 30 s until ready reports it answers at addr,
// and stops it when t ends. A server that exits or is not ready in time
// is an error that quotes its log, so a retry on another port can follow.
func runServer(t testing.TB, name string, cmd *exec.Cmd, logPath, addr string, ready func() bool) error {
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s log: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case err := <-exited:
			exited <- err // let stop return at once
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s exited before it was ready (%v): %s", name, err, log)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s at %s not ready after 30s: %s", name, addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(stop)
	return nil
}

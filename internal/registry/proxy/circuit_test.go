package proxy

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCircuit walks the circuit through its states with a fake clock.
func TestCircuit(t *testing.T) {
	boom := errors.New("boom")
	type step struct {
		do      string // "fail", "ok", "abandon" (each after an admit), "wait", "denied"
		wait    time.Duration
		probe   bool   // the admitted ticket is the probe
		state   string // after the step
		timeout bool
	}
	for _, tt := range []struct {
		name     string
		maxFails int
		steps    []step
	}{
		{"opens after max fails, probes once, closes", 2, []step{
			{do: "fail", state: StateClosed},
			{do: "fail", state: StateOpen},
			{do: "denied", state: StateOpen},
			{do: "wait", wait: 9 * time.Second, state: StateOpen},
			{do: "denied", state: StateOpen},
			{do: "wait", wait: time.Second, state: StateOpen},
			{do: "ok", probe: true, state: StateClosed},
			{do: "fail", state: StateClosed},
		}},
		{"a success resets the count", 2, []step{
			{do: "fail", state: StateClosed},
			{do: "ok", state: StateClosed},
			{do: "fail", state: StateClosed},
			{do: "fail", state: StateOpen},
		}},
		{"a failed probe reopens for a whole window", 1, []step{
			{do: "fail", state: StateOpen},
			{do: "wait", wait: 10 * time.Second},
			{do: "fail", probe: true, state: StateOpen},
			{do: "wait", wait: 5 * time.Second},
			{do: "denied", state: StateOpen},
			{do: "wait", wait: 5 * time.Second},
			{do: "ok", probe: true, state: StateClosed},
		}},
		{"an abandoned probe lets the next request probe", 1, []step{
			{do: "fail", timeout: true, state: StateOpen},
			{do: "wait", wait: 10 * time.Second},
			{do: "abandon", probe: true, state: StateOpen},
			{do: "fail", probe: true, state: StateOpen},
		}},
		{"never opens with max fails negative", -1, []step{
			{do: "fail", state: StateClosed}, {do: "fail", state: StateClosed}, {do: "fail", state: StateClosed},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			c := newCircuit(tt.maxFails, 10*time.Second)
			c.now = clk.now
			for i, s := range tt.steps {
				switch s.do {
				case "wait":
					clk.add(s.wait)
				case "denied":
					tk, err, _ := c.admit()
					if tk != nil || !errors.Is(err, ErrCircuitOpen) {
						t.Fatalf("step %d: admitted (%v), want denied", i, err)
					}
				default:
					tk, err, _ := c.admit()
					if err != nil {
						t.Fatalf("step %d: denied: %v", i, err)
					}
					if tk.probe != s.probe {
						t.Fatalf("step %d: probe %v, want %v", i, tk.probe, s.probe)
					}
					if tk.probe {
						// While the probe is out, nobody else goes.
						if other, _, _ := c.admit(); other != nil {
							t.Fatalf("step %d: a second request admitted beside the probe", i)
						}
					}
					switch s.do {
					case "fail":
						c.failure(tk, boom, s.timeout)
					case "ok":
						c.success(tk)
					case "abandon":
						c.abandon(tk)
					}
				}
				if st, _, _, _, _ := c.snapshot(); s.state != "" && st != s.state {
					t.Fatalf("step %d (%s): state %s, want %s", i, s.do, st, s.state)
				}
			}
		})
	}
}

// TestCircuitDeniedSaysTimeout: an open circuit reports whether the last
// failure was a timeout (504) or not (502), and why.
func TestCircuitDeniedSaysTimeout(t *testing.T) {
	c := newCircuit(1, time.Minute)
	tk, _, _ := c.admit()
	c.failure(tk, errors.New("no answer within 3s"), true)
	_, err, timeout := c.admit()
	if !timeout || err == nil || !strings.Contains(err.Error(), "no answer within 3s") || !strings.Contains(err.Error(), "next try in 1m0s") {
		t.Errorf("denied: %v, timeout %v", err, timeout)
	}
}

// TestWarning: the header's text is one quoted-string whatever the error
// quotes, and bounded.
func TestWarning(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"upstream unreachable: x", `111 pkgstore "upstream unreachable: x"`},
		{`say "hi" \ now`, `111 pkgstore "say 'hi' ' now"`},
		{"line\r\nbreak\tÉ", `111 pkgstore "line  break  "`},
		{strings.Repeat("a", 300), `111 pkgstore "` + strings.Repeat("a", 197) + `..."`},
	} {
		if got := warning(111, tt.in); got != tt.want {
			t.Errorf("warning(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestStaleStoreBounded: the store keeps at most maxBytes (keys
// counted), least recently used out first; an answer over the bound is
// not kept and drops the older answer to its query.
func TestStaleStoreBounded(t *testing.T) {
	body := []byte(strings.Repeat("x", 100))
	cost := (&staleEntry{key: "/search?a", body: body}).cost()
	s := newStaleStore(3 * cost)
	at := time.Unix(1e9, 0)
	for _, k := range []string{"/search?a", "/search?b", "/search?c"} {
		s.put(k, body, at)
	}
	if _, _, ok := s.get("/search?a"); !ok { // a is now the most recently used
		t.Fatal("a not kept")
	}
	s.put("/search?d", body, at)
	if _, _, ok := s.get("/search?b"); ok {
		t.Error("b, least recently used, was not evicted")
	}
	for _, k := range []string{"/search?a", "/search?c", "/search?d"} {
		if _, _, ok := s.get(k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	if n, b := s.size(); n != 3 || b != 3*cost {
		t.Errorf("size %d, %d bytes; want 3, %d", n, b, 3*cost)
	}
	s.put("/search?a", []byte(strings.Repeat("y", int(4*cost))), at)
	if _, _, ok := s.get("/search?a"); ok {
		t.Error("an answer over the bound was kept")
	}
	if n, b := s.size(); n != 2 || b != 2*cost {
		t.Errorf("size %d, %d bytes; want 2, %d", n, b, 2*cost)
	}
}

/*
Copyright 2026 The restore-hook-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command bench measures the operator on a local control plane (envtest + kwok), the way a 1,000-pod
// restore would use it. One invocation measures, prints a table and (with --json) writes the figures:
//
//  1. throughput: N pods, all Running, each with 2 exec hooks (`/bin/sh -c true`) from one hook spec, one
//     RestoreHookRun: wall time from the run's creation to the run Completed (seen on a watch);
//  2. floor: the same 2N execs issued with client-go's WebSocket executor, one goroutine per pod, no
//     operator, interleaved with (1) over --reps repetitions (run/floor, floor/run, ...); ratio = median
//     run time / median floor time, and ratio_median/min/max are those of each repetition's pair;
//  3. reaction latency (measured first, on the fresh cluster): the operator idle, a run waiting on
//     --reaction-pods pods on the node kwok does not manage; the benchmark turns their containers Running
//     one at a time, --reaction-interval apart, and each pod's annotation hook writes `date +%s%N` to a
//     file: latency = that timestamp - the time the benchmark sent the pod's status update;
//  4. the manager's peak RSS (VmHWM of its process, which lives for one repetition of (1));
//  5. the pod LIST and WATCH requests the manager sent, from the API server's audit log filtered by the
//     manager's own user (a policy that logs only that user's reads and pod requests);
//  6. the size of the run's final status (JSON).
//
// The manager runs as its own process, built from ./cmd/manager, exactly as deployed (no webhooks).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// managerUser is the API server user the manager authenticates as, so the audit log tells its
// requests apart from kwok's and the benchmark's.
const managerUser = "bench-manager"

type config struct {
	pods             int
	hooks            int
	reps             int
	reactionPods     int
	reactionInterval time.Duration
	jsonPath         string
	workDir          string
	managerArgs      string
	createWorkers    int
	timeout          time.Duration
	profile          bool
	profileSeconds   int
	floor            bool
	settleLoad       float64
}

func main() {
	var c config
	flag.IntVar(&c.pods, "pods", 1000, "Pods restored in the throughput measurement.")
	flag.IntVar(&c.hooks, "hooks", 2, "Exec hooks per pod (one hook spec, `/bin/sh -c true` each).")
	flag.IntVar(&c.reps, "repeat", 5, "Repetitions of throughput and floor, interleaved (run, floor; floor, run; ...).")
	flag.IntVar(&c.reps, "reps", 5, "The same as --repeat.")
	flag.IntVar(&c.reactionPods, "reaction-pods", 50, "Pods of the reaction-latency measurement (0 skips it).")
	flag.DurationVar(&c.reactionInterval, "reaction-interval", time.Second, "Time between two pods turning Running.")
	flag.StringVar(&c.jsonPath, "json", "", "Write the results as JSON to this file.")
	flag.StringVar(&c.workDir, "work-dir", "", "Keep the manager's logs and the audit log here (default: a temp dir, removed).")
	flag.StringVar(&c.managerArgs, "manager-args", "", "Extra flags for the manager, space-separated (e.g. --max-concurrent-execs=128).")
	flag.IntVar(&c.createWorkers, "create-workers", 32, "Concurrent pod creations while setting up.")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "Give up after this long.")
	flag.BoolVar(&c.profile, "profile", false, "Take pprof profiles of the manager during each run (CPU, peak heap, allocations) "+
		"into the work directory. Profiling costs the manager time: profiled figures are not the headline.")
	flag.IntVar(&c.profileSeconds, "profile-seconds", 10, "Length of the CPU profile, from the run's creation.")
	flag.Float64Var(&c.settleLoad, "settle-load", 1.0, "Before the reaction latency, wait (at most 3 minutes) for the machine's 1-minute load "+
		"average to fall to this, so that an idle operator is measured on an idle machine (0: do not wait).")
	flag.BoolVar(&c.floor, "floor", true, "Measure the floor too (--floor=false: the operator's runs alone, e.g. to profile them).")
	flag.Parse()
	// The benchmark reports its own errors; controller-runtime's log would only add noise.
	logf.SetLogger(logr.Discard())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, c.timeout)
	defer cancelTimeout()

	res, err := run(ctx, c)
	if res != nil {
		printTable(os.Stdout, res)
		if c.jsonPath != "" {
			if werr := writeJSON(c.jsonPath, res); werr != nil {
				err = errors.Join(err, werr)
			} else {
				fmt.Printf("\nwrote %s\n", c.jsonPath)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) (_ *results, err error) {
	if c.pods <= 0 || c.hooks <= 0 || c.reps <= 0 {
		return nil, fmt.Errorf("--pods, --hooks and --repeat must be > 0")
	}
	work := c.workDir
	if work == "" {
		if work, err = os.MkdirTemp("", "rho-bench-"); err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(work) }()
	} else if err = os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	res := &results{Pods: c.pods, Hooks: c.hooks, Reps: c.reps, Profiled: c.profile, Machine: describeMachine()}
	res.Machine.LoadStart = loadAvg()

	logStep("building the manager (./cmd/manager)")
	managerBin := filepath.Join(work, "manager")
	if err := buildManager(ctx, managerBin); err != nil {
		return nil, err
	}

	logStep("starting envtest + kwok (API server audit log for user %s)", managerUser)
	auditLog := filepath.Join(work, "audit.log")
	auditPolicy := filepath.Join(work, "audit-policy.yaml")
	if err := os.Remove(auditLog); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.WriteFile(auditPolicy, []byte(auditPolicyYAML), 0o600); err != nil {
		return nil, err
	}
	local, err := localcluster.StartLocal(ctx, localcluster.LocalOptions{Configure: func(env *envtest.Environment) error {
		env.ControlPlane.GetAPIServer().Configure().
			Set("audit-log-path", auditLog).
			Set("audit-policy-file", auditPolicy).
			Set("audit-log-maxsize", "0")
		return nil
	}})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, local.Stop()) }()

	b, err := newBench(ctx, c, local, work, managerBin, auditLog)
	if err != nil {
		return nil, err
	}

	// Reaction latency first, on a fresh cluster: after thousands of pods, kwok and the API server are
	// still busy deleting them for a while, which is not what an idle operator sees.
	if c.reactionPods > 0 {
		res.Machine.LoadReaction = settleLoad(ctx, c.settleLoad, 3*time.Minute)
		lat, err := b.reaction(ctx)
		if err != nil {
			return res, fmt.Errorf("reaction latency: %w", err)
		}
		res.setReaction(lat)
	}
	for rep := 1; rep <= c.reps; rep++ {
		r, err := b.throughputRep(ctx, rep)
		if r != nil {
			res.addRep(r)
			res.finish()
		}
		if err != nil {
			return res, fmt.Errorf("repetition %d: %w", rep, err)
		}
	}
	res.finish()
	res.Machine.LoadEnd = loadAvg()
	return res, nil
}

// auditPolicyYAML logs some of the manager's requests (metadata only) and nothing else, so counting is
// exact and costs the API server little: its pod requests and its reads of anything. Its writes are
// left out: at level Metadata the API server still encodes the request object, which for a status of
// thousands of records would load the machine being measured. The run watch counts status writes and a
// list of the namespace's events counts events instead; pods/exec is the work itself.
const auditPolicyYAML = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  resources: [{group: "", resources: ["pods/exec"]}]
- level: Metadata
  users: ["` + managerUser + `"]
  resources: [{group: "", resources: ["pods"]}]
- level: Metadata
  users: ["` + managerUser + `"]
  verbs: ["get", "list", "watch"]
- level: None
`

func logStep(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// median returns the median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0..100) of xs, nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryBytes = kb * 1024
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// settleLoad waits until the 1-minute load average is at most limit, or for at most timeout, and returns
// the load average then.
func settleLoad(ctx context.Context, limit float64, timeout time.Duration) string {
	if limit <= 0 {
		return loadAvg()
	}
	deadline := time.Now().Add(timeout)
	logged := false
	for {
		load := loadAvg()
		var one float64
		if _, err := fmt.Sscanf(load, "%f", &one); err != nil || one <= limit || time.Now().After(deadline) || ctx.Err() != nil {
			return load
		}
		if !logged {
			logStep("waiting for the machine to settle (load average %s, waiting for %.1f)", load, limit)
			logged = true
		}
		time.Sleep(2 * time.Second)
	}
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func writeJSON(path string, res *results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

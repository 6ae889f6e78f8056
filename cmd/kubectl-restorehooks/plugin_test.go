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

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// These tests run the plugin's commands in-process against a real API server (envtest) with the CRD
// installed, the way a user runs them: --kubeconfig, -n, -A, arguments; the test plays the operator by
// creating RestoreHookRuns and writing their status.

var (
	k8s        client.Client
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(runWithAPIServer(m))
}

func runWithAPIServer(m *testing.M) int {
	env, err := localcluster.NewEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-restorehooks-test-")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := localcluster.WriteKubeconfig(cfg, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// result is what a user sees of one command: its output streams and exit status.
type result struct {
	stdout, stderr string
	code           int
}

// kubectlRestorehooks runs the plugin with args, as main does (the error goes to stderr).
func kubectlRestorehooks(ctx context.Context, args ...string) result {
	var out, errOut bytes.Buffer
	cmd := NewRootCommand(genericStreams(&out, &errOut))
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	err := cmd.ExecuteContext(ctx)
	if err != nil && !isSilent(err) {
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: ExitCode(err)}
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T, ctx context.Context) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rh-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createRun creates a run of restore in ns, with status st when st is not nil.
func createRun(t *testing.T, ctx context.Context, ns, name, restore string, st *v1alpha1.RestoreHookRunStatus) *v1alpha1.RestoreHookRun {
	t.Helper()
	run := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore}}}
	if err := k8s.Create(ctx, run); err != nil {
		t.Fatal(err)
	}
	if st != nil {
		setStatus(t, ctx, run, *st)
	}
	return run
}

// setStatus writes a run's status as the operator would.
func setStatus(t *testing.T, ctx context.Context, run *v1alpha1.RestoreHookRun, st v1alpha1.RestoreHookRunStatus) {
	t.Helper()
	cur := &v1alpha1.RestoreHookRun{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
		t.Fatal(err)
	}
	cur.Status = st
	if err := k8s.Status().Update(ctx, cur); err != nil {
		t.Fatalf("writing the status of %s/%s: %v", run.Namespace, run.Name, err)
	}
}

func status(phase v1alpha1.RunPhase, succeeded, failed, pending int32) *v1alpha1.RestoreHookRunStatus {
	return &v1alpha1.RestoreHookRunStatus{Phase: phase, HooksAttempted: succeeded + failed + pending,
		HooksSucceeded: succeeded, HooksFailed: failed, HooksPending: pending,
		Summary: fmt.Sprintf("%d/%d", succeeded, succeeded+failed+pending)}
}

// waitAsync starts `wait` and returns its result later, so a test can change runs meanwhile.
func waitAsync(ctx context.Context, args ...string) <-chan result {
	done := make(chan result, 1)
	go func() { done <- kubectlRestorehooks(ctx, append([]string{"wait"}, args...)...) }()
	return done
}

// settle gives a started wait time to list and open its watch, so the changes a test makes next
// arrive through the watch, not the initial list. The outcome does not depend on it: a change made
// before the watch opens is in the list.
func settle() { time.Sleep(time.Second) }

func expectResult(t *testing.T, got result, code int, stdout, stderr []string) {
	t.Helper()
	if got.code != code {
		t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", got.code, code, got.stdout, got.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(got.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, got.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(got.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, got.stderr)
		}
	}
}

func TestWaitExitCodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, ctx)
	createRun(t, ctx, ns, "done", "r1", status(v1alpha1.RunPhaseCompleted, 3, 0, 0))
	createRun(t, ctx, ns, "partial", "r2", status(v1alpha1.RunPhasePartiallyFailed, 2, 1, 0))
	createRun(t, ctx, ns, "failed", "r3", status(v1alpha1.RunPhaseFailed, 0, 0, 0))

	cases := map[string]struct {
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		"Completed exits 0": {args: []string{"done"}, code: 0,
			stdout: []string{ns + "/done: Completed, 3/3 hooks succeeded, 0 failed, 0 skipped"}},
		"PartiallyFailed exits 1": {args: []string{"partial"}, code: 1,
			stdout: []string{ns + "/partial: PartiallyFailed, 2/3 hooks succeeded, 1 failed"}},
		"Failed exits 2": {args: []string{"failed"}, code: 2, stdout: []string{ns + "/failed: Failed"}},
		"missing run exits 2 at once": {args: []string{"nope"}, code: 2,
			stderr: []string{fmt.Sprintf(`restorehookrun "nope" not found in namespace %q`, ns)}},
		"no run of the Restore exits 2": {args: []string{"--restore", "r-none"}, code: 2,
			stderr: []string{fmt.Sprintf(`no RestoreHookRun of Restore "r-none" in namespace %q`, ns)}},
		"RUN and --restore together exit 2": {args: []string{"done", "--restore", "r1"}, code: 2,
			stderr: []string{"give either RUN"}},
		"a bad flag exits 2, not 1": {args: []string{"done", "--timeout", "soon"}, code: 2,
			stderr: []string{`invalid argument "soon"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			got := kubectlRestorehooks(ctx, append([]string{"wait", "-n", ns}, tc.args...)...)
			expectResult(t, got, tc.code, tc.stdout, tc.stderr)
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %s: a run that is already terminal or missing must not be waited for", d)
			}
		})
	}
}

func TestWaitFollowsTheRunToItsEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, ctx)
	run := createRun(t, ctx, ns, "r", "restore", status(v1alpha1.RunPhaseRunning, 1, 0, 3))

	done := waitAsync(ctx, "-n", ns, "r")
	settle()
	setStatus(t, ctx, run, *status(v1alpha1.RunPhaseRunning, 3, 0, 1))
	select {
	case got := <-done:
		t.Fatalf("wait returned before the run ended: %+v", got)
	case <-time.After(500 * time.Millisecond):
	}
	setStatus(t, ctx, run, *status(v1alpha1.RunPhasePartiallyFailed, 3, 1, 0))
	got := <-done
	expectResult(t, got, 1, []string{ns + "/r: PartiallyFailed, 3/4 hooks succeeded, 1 failed"}, nil)
	if got.stderr != "" {
		t.Errorf("off a terminal wait shows no progress, got stderr %q", got.stderr)
	}
}

func TestWaitTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, ctx)
	createRun(t, ctx, ns, "slow", "restore", status(v1alpha1.RunPhaseRunning, 14, 0, 6))

	start := time.Now()
	got := kubectlRestorehooks(ctx, "wait", "-n", ns, "slow", "--timeout", "2s")
	expectResult(t, got, 3, nil, []string{
		fmt.Sprintf(`timed out after 2s waiting for restorehookrun "slow" in namespace %q: %s/slow Running: 14/20 hooks done`, ns, ns)})
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("gave up after %s, before --timeout", d)
	}
}

func TestWaitForADeletedRunExits2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, ctx)
	run := createRun(t, ctx, ns, "doomed", "restore", status(v1alpha1.RunPhaseRunning, 0, 0, 2))

	done := waitAsync(ctx, "-n", ns, "doomed")
	settle()
	if err := k8s.Delete(ctx, run); err != nil {
		t.Fatal(err)
	}
	expectResult(t, <-done, 2, []string{ns + "/doomed: deleted before it finished"}, nil)
}

func TestWaitForEveryRunOfARestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns1, ns2 := namespace(t, ctx), namespace(t, ctx)
	a := createRun(t, ctx, ns1, "a", "nightly", status(v1alpha1.RunPhaseRunning, 0, 0, 2))
	createRun(t, ctx, ns1, "b", "nightly", status(v1alpha1.RunPhaseCompleted, 2, 0, 0))
	c := createRun(t, ctx, ns2, "c", "nightly", status(v1alpha1.RunPhaseRunning, 0, 0, 1))
	createRun(t, ctx, ns1, "other", "weekly", status(v1alpha1.RunPhaseRunning, 0, 0, 1)) // never ends

	inNS1 := waitAsync(ctx, "-n", ns1, "--restore", "nightly")
	everywhere := waitAsync(ctx, "-A", "--restore", "nightly")
	settle()
	setStatus(t, ctx, a, *status(v1alpha1.RunPhasePartiallyFailed, 1, 1, 0))
	got := <-inNS1
	expectResult(t, got, 1, []string{ns1 + "/a: PartiallyFailed", ns1 + "/b: Completed"}, nil)
	if strings.Contains(got.stdout, "other") || strings.Contains(got.stdout, ns2) {
		t.Errorf("-n %s --restore nightly followed runs it should not:\n%s", ns1, got.stdout)
	}

	select {
	case got := <-everywhere:
		t.Fatalf("-A returned before the run in %s ended: %+v", ns2, got)
	case <-time.After(500 * time.Millisecond):
	}
	setStatus(t, ctx, c, *status(v1alpha1.RunPhaseFailed, 0, 0, 0))
	expectResult(t, <-everywhere, 2, []string{ns1 + "/a: PartiallyFailed", ns1 + "/b: Completed", ns2 + "/c: Failed"}, nil)
}

// expectRow checks that a table has a row starting with these cells.
func expectRow(t *testing.T, table string, cells ...string) {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cells) && slices.Equal(f[:len(cells)], cells) {
			return
		}
	}
	t.Errorf("no row %v in:\n%s", cells, table)
}

// demoStatus is a finished run like the demo's, with a failed hook and recorded output.
func demoStatus() *v1alpha1.RestoreHookRunStatus {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	return &v1alpha1.RestoreHookRunStatus{
		Phase: v1alpha1.RunPhasePartiallyFailed, RestorePhase: "Completed", StartTime: &now, CompletionTime: &now,
		HooksAttempted: 2, HooksSucceeded: 1, HooksFailed: 1, PodsInScope: 2, Summary: "1/2",
		Hooks: []v1alpha1.HookRecord{
			{Pod: "shop/postgres-0", Container: "postgres", Hook: "load", Source: v1alpha1.HookSourceSpec,
				Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseSucceeded, Attempts: 1, ExitCode: ptr.To[int32](0),
				StartTime: &now, CompletionTime: &now, Stdout: "COPY 42\n"},
			{Pod: "shop/cache-0", Container: "redis", Hook: "warm", Source: v1alpha1.HookSourceSpec,
				Type: v1alpha1.HookTypeExec, Phase: v1alpha1.HookPhaseFailed, Reason: v1alpha1.ReasonNonZeroExit,
				Attempts: 1, ExitCode: ptr.To[int32](3), StartTime: &now, CompletionTime: &now,
				Message: "command terminated with exit code 3", Stderr: "dump.rdb: no such file\n"},
		},
	}
}

func TestDescribeLogsListAgainstTheAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, other, empty := namespace(t, ctx), namespace(t, ctx), namespace(t, ctx)
	written := demoStatus() // once: it stamps times from the clock, which may cross a second between calls
	createRun(t, ctx, ns, "demo", "demo-restore", written)
	createRun(t, ctx, other, "elsewhere", "r9", nil)

	t.Run("describe", func(t *testing.T) {
		got := kubectlRestorehooks(ctx, "describe", "-n", ns, "demo")
		expectResult(t, got, 0, []string{
			"Name:           demo\n", "Restore:        demo-restore (phase Completed)\n", "Phase:          PartiallyFailed\n",
			"POD              CONTAINER  HOOK  SOURCE  TYPE  PHASE      REASON       ATTEMPTS  EXIT  DURATION\n",
			"shop/cache-0     redis      warm  Spec    Exec  Failed     NonZeroExit  1         3     <1s\n",
			"shop/cache-0 redis warm: command terminated with exit code 3\n"}, nil)
		if strings.Contains(got.stdout, "\x1b[") {
			t.Errorf("colour codes off a terminal:\n%q", got.stdout)
		}
	})
	t.Run("describe -o yaml passes the object through", func(t *testing.T) {
		got := kubectlRestorehooks(ctx, "describe", "-n", ns, "demo", "-o", "yaml")
		expectResult(t, got, 0, []string{"kind: RestoreHookRun\n"}, nil)
		var back v1alpha1.RestoreHookRun
		if err := yaml.UnmarshalStrict([]byte(got.stdout), &back); err != nil {
			t.Fatalf("-o yaml is not a RestoreHookRun: %v\n%s", err, got.stdout)
		}
		if diff := cmp.Diff(*written, back.Status); diff != "" {
			t.Errorf("-o yaml status differs from what the operator wrote (-want +got):\n%s", diff)
		}
		if len(back.ManagedFields) != 0 {
			t.Errorf("-o yaml shows managedFields, which kubectl hides")
		}
	})
	t.Run("describe -o json", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "describe", "-n", ns, "demo", "-o", "json"), 0,
			[]string{`"kind": "RestoreHookRun"`, `"stderr": "dump.rdb: no such file\n"`}, nil)
	})
	t.Run("describe -o wide is refused", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "describe", "-n", ns, "demo", "-o", "wide"), 1, nil,
			[]string{`--output "wide" is not supported: use yaml or json`})
	})
	t.Run("describe of a missing run", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "describe", "-n", ns, "nope"), 1, nil,
			[]string{fmt.Sprintf(`restorehookrun "nope" not found in namespace %q`, ns)})
	})
	t.Run("logs of one pod by bare name", func(t *testing.T) {
		got := kubectlRestorehooks(ctx, "logs", "-n", ns, "demo", "cache-0")
		expectResult(t, got, 0, []string{"==> shop/cache-0 redis warm (Exec hook Failed NonZeroExit, exit 3) <==\n",
			"--- stderr ---\ndump.rdb: no such file\n"}, nil)
		if strings.Contains(got.stdout, "COPY 42") {
			t.Errorf("logs for cache-0 shows another pod's output:\n%s", got.stdout)
		}
	})
	t.Run("logs --hook", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "logs", "-n", ns, "demo", "--hook", "load"), 0,
			[]string{"==> shop/postgres-0 postgres load", "COPY 42"}, nil)
	})
	t.Run("logs with no matching record", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "logs", "-n", ns, "demo", "shop/web-0", "-c", "nginx"), 1, nil,
			[]string{fmt.Sprintf(`restorehookrun %s/demo has no hook record for pod "shop/web-0" in container "nginx"`, ns)})
	})
	t.Run("list", func(t *testing.T) {
		got := kubectlRestorehooks(ctx, "list", "-n", ns)
		expectResult(t, got, 0, []string{"NAME  RESTORE       PHASE            HOOKS  FAILED  SKIPPED  PENDING  AGE\n",
			"demo  demo-restore  PartiallyFailed  1/2    1       0        0"}, nil)
		if strings.Contains(got.stdout, "elsewhere") {
			t.Errorf("list -n %s shows a run of %s:\n%s", ns, other, got.stdout)
		}
	})
	t.Run("list -A", func(t *testing.T) {
		got := kubectlRestorehooks(ctx, "list", "-A")
		expectResult(t, got, 0, []string{"NAMESPACE  NAME"}, nil)
		expectRow(t, got.stdout, ns, "demo", "demo-restore", "PartiallyFailed", "1/2")
		expectRow(t, got.stdout, other, "elsewhere", "r9", "Pending", "0/0")
	})
	t.Run("list of an empty namespace", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "list", "-n", empty), 0, nil,
			[]string{fmt.Sprintf("No resources found in %s namespace.\n", empty)})
	})
	t.Run("list -o yaml", func(t *testing.T) {
		expectResult(t, kubectlRestorehooks(ctx, "list", "-n", ns, "-o", "yaml"), 0, []string{"name: demo\n"}, nil)
	})
}

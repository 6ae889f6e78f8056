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

// Command local runs the whole system on this machine (`make run-local`): a control plane (envtest's
// kube-apiserver and etcd), kwok as a node whose pods run and whose pods/exec runs commands as local
// processes, Velero's own server (built by `make velero`) with an in-process object store, and the
// operator with its webhooks — the same code path as in a cluster. It then plays a demo: the application
// runs, Velero backs its namespace up, the namespace is lost, a RestoreHookRun is declared and Velero
// restores the namespace; it shows the run progressing, its `kubectl restorehooks describe` view and Velero's
// own view of the Restore, and keeps the cluster up (printing a KUBECONFIG) until interrupted. With --once it exits after
// the demo, 0 when the demo's expected outcomes hold. --simulated-velero plays the restore without
// Velero's server, creating the Restore and the restored pods by hand as Velero would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/describe"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const (
	veleroNS    = "velero"
	demoNS      = "shop"
	backupName  = "nightly"
	restoreName = "demo-restore"
	policyName  = "shop-dr"
)

// runName is the run the demo's RestoreHookPolicy creates for its Restore.
var runName = policy.RunName(restoreName, policyName)

func main() {
	once := flag.Bool("once", false, "exit after the demo: 0 when its expected outcomes hold, 1 otherwise")
	timeout := flag.Duration("timeout", 4*time.Minute, "how long the demo may take")
	simulated := flag.Bool("simulated-velero", false,
		"play the restore without Velero's server (no `make velero` build): create the Restore and the restored pods by hand")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *once, *simulated, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "run-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, once, simulated bool, timeout time.Duration) (err error) {
	dir, err := os.MkdirTemp("", "restore-hook-operator-local-")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	workDir := filepath.Join(dir, "node")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	opts := localcluster.LocalOptions{Webhooks: true, Kwok: localcluster.KwokOptions{WorkDir: workDir}}
	if simulated {
		say("Starting a local control plane (kube-apiserver + etcd) and kwok; Velero simulated")
	} else {
		say("Starting a local control plane (kube-apiserver + etcd), kwok, and Velero %s's server with an in-process object store",
			localcluster.VeleroVersion)
		opts.Velero = &localcluster.VeleroOptions{Namespace: veleroNS}
	}
	local, err := localcluster.StartLocal(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if local.Velero != nil {
			say("Stopping the operator, Velero's server, kwok and the control plane")
		} else {
			say("Stopping the operator, kwok and the control plane")
		}
		err = errors.Join(err, local.Stop(), os.RemoveAll(dir))
	}()
	if local.Velero != nil {
		say("Velero server running (log: %s), backups in %s/%s", local.Velero.LogFile, local.Velero.Store.URL, local.Velero.Store.Bucket)
	}

	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	wh := local.Env.WebhookInstallOptions
	go func() {
		mgrDone <- operator.Run(mgrCtx, local.Config, operator.Options{
			MetricsAddr: "127.0.0.1:0", SecureMetrics: false, ProbeAddr: "0", VeleroNamespace: veleroNS,
			MaxConcurrentExecs: 64, MaxConcurrentRuns: 4, StatusWriteInterval: 100 * time.Millisecond,
			WebhookHost: wh.LocalServingHost, WebhookPort: wh.LocalServingPort, WebhookCertPath: wh.LocalServingCertDir,
			WebhookCertName: "tls.crt", WebhookCertKey: "tls.key",
		})
	}()
	defer func() {
		stopMgr()
		if mErr := <-mgrDone; mErr != nil {
			err = errors.Join(err, fmt.Errorf("manager: %w", mErr))
		}
	}()
	if err := local.WaitForWebhooks(ctx, 30*time.Second); err != nil {
		return err
	}
	say("Operator running (log: %s); hooks run as local processes in %s", logPath, workDir)

	c, err := client.New(local.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return err
	}
	demoCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		final    *v1alpha1.RestoreHookRun
		restored *velerov1.Restore
	)
	if simulated {
		final, err = demoSimulated(demoCtx, c, local.Kwok)
	} else {
		final, restored, err = demoVelero(demoCtx, c, local)
	}
	if err != nil {
		return err
	}
	if err := printDescribe(final); err != nil {
		return err
	}
	if restored != nil {
		printVeleroView(restored)
	}

	problems := append(checkOutcome(final), checkVelero(restored)...)
	if once {
		if len(problems) > 0 {
			return fmt.Errorf("the demo did not end as expected:\n  %s", strings.Join(problems, "\n  "))
		}
		say("Demo outcome as expected: the migration ran once, after the database; one hook failed under onError Continue, everything else succeeded")
		return nil
	}
	for _, p := range problems {
		say("Unexpected: %s", p)
	}
	fmt.Printf(`
The cluster stays up until Ctrl-C. Try:
  export KUBECONFIG=%s
  kubectl get restorehookruns -A
  make plugin && export PATH=$PWD/bin:$PATH   # then: kubectl restorehooks list -A
  kubectl restorehooks describe -n %s %s
  kubectl restorehooks logs -n %s %s cache-0
  kubectl get rhr -n %s %s -o yaml
  kubectl describe rhr -n %s %s
  kubectl get events -n %s
  kubectl explain restorehookrun.spec.hooks.resources.postHooks.exec
`, local.Kwok.Kubeconfig, veleroNS, runName, veleroNS, runName, veleroNS, runName, veleroNS, runName, demoNS)
	if local.Velero != nil {
		fmt.Printf("  %s --kubeconfig %s -n %s restore describe %s\n", local.Velero.Binary, local.Kwok.Kubeconfig, veleroNS, restoreName)
	}
	<-ctx.Done()
	return nil
}

func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// demoSimulated plays a restore without Velero's server: Velero's Restore, the pods it restores
// (labelled as Velero labels them, created after the run as Velero creates them during the restore), and
// a RestoreHookRun. It returns the run once it is terminal.
func demoSimulated(ctx context.Context, c client.Client, kwok *localcluster.Kwok) (*v1alpha1.RestoreHookRun, error) {
	for _, ns := range []string{veleroNS, demoNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	if err := applyPolicy(ctx, c); err != nil {
		return nil, err
	}
	restore := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: restoreName},
		Spec: velerov1.RestoreSpec{BackupName: backupName}, Status: velerov1.RestoreStatus{Phase: velerov1.RestorePhaseInProgress}}
	if err := c.Create(ctx, restore); err != nil {
		return nil, fmt.Errorf("creating the Restore: %w", err)
	}
	say("Created Restore %s/%s (InProgress); no RestoreHookRun written by hand", veleroNS, restoreName)
	run, err := waitRunExists(ctx, c)
	if err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // let the webhook's cache see the run before the pods arrive

	for _, p := range demoPods() {
		p.Labels[velerov1.RestoreNameLabel] = restoreName
		if err := kwok.CreateManagedPod(ctx, p); err != nil {
			return nil, fmt.Errorf("creating pod %s: %w", p.Name, err)
		}
		var got corev1.Pod
		if err := c.Get(ctx, client.ObjectKeyFromObject(p), &got); err == nil && len(got.Spec.InitContainers) > 0 {
			say("Restored pod %s/%s; the webhook injected init containers %s", demoNS, p.Name, got.Annotations[hook.InjectedAnnotation])
		} else {
			say("Restored pod %s/%s", demoNS, p.Name)
		}
	}
	restore.Status.Phase = velerov1.RestorePhaseCompleted
	if err := c.Update(ctx, restore); err != nil {
		return nil, fmt.Errorf("completing the Restore: %w", err)
	}
	say("Velero finished restoring: Restore phase Completed")
	return waitRun(ctx, c, run)
}

// demoVelero plays a real disaster and recovery through Velero's server: the application's pods run,
// Velero backs their namespace up, the namespace is lost, the RestoreHookRun is declared, and Velero
// restores the namespace (its pods come back Pending with no node, the binder places them on kwok's
// node). It returns the run once it is terminal, and Velero's Restore once Velero is finished with it.
func demoVelero(ctx context.Context, c client.Client, local *localcluster.Local) (*v1alpha1.RestoreHookRun, *velerov1.Restore, error) {
	v := local.Velero
	if err := applyPolicy(ctx, c); err != nil {
		return nil, nil, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNS}}); err != nil {
		return nil, nil, fmt.Errorf("creating namespace %s: %w", demoNS, err)
	}
	for _, p := range demoPods() {
		if err := local.Kwok.RunManagedPod(ctx, p, time.Minute); err != nil {
			return nil, nil, fmt.Errorf("running pod %s: %w", p.Name, err)
		}
	}
	say("The application runs in namespace %s: %d pods, one with Velero hook annotations", demoNS, len(demoPods()))

	b, err := v.Backup(ctx, backupName, 2*time.Minute, demoNS)
	if err != nil {
		return nil, nil, err
	}
	say("Velero backed namespace %s up: Backup %s/%s %s, %d items", demoNS, veleroNS, b.Name, b.Status.Phase, b.Status.Progress.ItemsBackedUp)

	if err := localcluster.DeleteNamespace(ctx, local.Config, demoNS, time.Minute); err != nil {
		return nil, nil, err
	}
	say("Disaster: namespace %s deleted", demoNS)

	// What an on-call engineer types: no RestoreHookRun, the policy gives the Restore its run, and the pod
	// webhook takes the pods' annotation hooks over for that run even before it exists.
	if err := c.Create(ctx, v.NewRestore(restoreName, backupName, demoNS)); err != nil {
		return nil, nil, fmt.Errorf("creating the Restore: %w", err)
	}
	say("Created Restore %s/%s from Backup %s (velero restore create --from-backup %s); no RestoreHookRun written by hand",
		veleroNS, restoreName, backupName, backupName)
	run, err := waitRunExists(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	final, err := waitRun(ctx, c, run)
	if err != nil {
		return nil, nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	restored, err := v.WaitRestore(ctx, restoreName, time.Until(deadline))
	if err != nil {
		return nil, nil, err
	}
	say("Velero finished restoring: Restore phase %s", restored.Status.Phase)
	return final, restored, nil
}

// waitRun follows the run, printing each change of its progress, and returns it once it is terminal.
func waitRun(ctx context.Context, c client.Client, run *v1alpha1.RestoreHookRun) (*v1alpha1.RestoreHookRun, error) {
	last := ""
	for {
		cur := &v1alpha1.RestoreHookRun{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return nil, err
		}
		st := cur.Status
		line := fmt.Sprintf("run %s: %-15s hooks %s succeeded, %d failed, %d pending", runName, st.Phase, st.Summary, st.HooksFailed, st.HooksPending)
		if line != last {
			say("%s", line)
			last = line
		}
		if st.Phase.IsTerminal() {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the run did not finish: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// demoRun declares the spec hooks: a pg_isready-style wait then a load step in a two-container pod, and
// a cache warm-up that fails under onError Continue.
// applyPolicy declares the demo's hooks once, as a RestoreHookPolicy for every Restore of the nightly
// backups, before any Restore exists.
func applyPolicy(ctx context.Context, c client.Client) error {
	p := &v1alpha1.RestoreHookPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: policyName},
		Spec: v1alpha1.RestoreHookPolicySpec{
			RestoreSelector: v1alpha1.RestoreSelector{BackupNames: []string{backupName + "*"}},
			Template:        v1alpha1.RestoreHookRunTemplate{Spec: v1alpha1.RestoreHookRunTemplateSpec{Hooks: demoHooks()}},
		},
	}
	if err := c.Create(ctx, p); err != nil {
		return fmt.Errorf("creating the RestoreHookPolicy: %w", err)
	}
	say("Applied RestoreHookPolicy %s/%s: hooks for every Restore of backups %s*", veleroNS, policyName, backupName)
	// A policy serves Restores created after it, to the second.
	time.Sleep(time.Until(p.CreationTimestamp.Add(1100 * time.Millisecond)))
	return nil
}

// waitRunExists waits for the run the policy creates for the demo's Restore.
func waitRunExists(ctx context.Context, c client.Client) (*v1alpha1.RestoreHookRun, error) {
	for {
		run := &v1alpha1.RestoreHookRun{}
		err := c.Get(ctx, client.ObjectKey{Namespace: veleroNS, Name: runName}, run)
		if err == nil {
			say("RestoreHookPolicy %s created RestoreHookRun %s/%s", policyName, veleroNS, runName)
			return run, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the policy created no run for Restore %s: %w", restoreName, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// demoHooks declares the spec hooks: a pg_isready-style wait then a load step in a two-container pod; a
// schema migration that runs once across the API's replicas, after the database (singlePod, dependsOn);
// and a cache warm-up, after the migration, that fails under onError Continue.
func demoHooks() v1alpha1.RestoreHooks {
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	exec := func(container string, cmd []string) v1alpha1.RestoreResourceHook {
		return v1alpha1.RestoreResourceHook{Exec: &v1alpha1.ExecRestoreHook{Container: container, Command: cmd}}
	}
	wait := exec("postgres", sh(`n=0; until [ -f pg-ready ]; do n=$((n+1)); [ $n -ge 3 ] && touch pg-ready; sleep 0.3; done; echo "postgres:5432 - accepting connections"`))
	wait.Exec.OnError = v1alpha1.HookErrorModeFail
	wait.Exec.ExecTimeout = &metav1.Duration{Duration: time.Minute}
	return v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{
		{
			Name: "postgres-restore", IncludedNamespaces: []string{demoNS},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
			PostHooks: []v1alpha1.RestoreResourceHook{
				wait,
				exec("postgres", sh(`echo "COPY 42"; echo "loaded backup.sql" >> restore.log`)),
				exec("sidecar", sh(`date -u +%FT%TZ > sidecar-started; echo sidecar unpaused`)),
			},
		},
		{
			Name: "api-migrate", IncludedNamespaces: []string{demoNS}, DependsOn: []string{"postgres-restore"}, SinglePod: true,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			PostHooks: []v1alpha1.RestoreResourceHook{
				exec("api", sh(`echo "migrating schema to v42"; echo migrated >> migrations.log`)),
			},
		},
		{
			Name: "cache-warmup", IncludedNamespaces: []string{demoNS}, DependsOn: []string{"api-migrate"},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}},
			PostHooks: []v1alpha1.RestoreResourceHook{
				exec("redis", sh(`echo "warming cache from dump.rdb"; echo "dump.rdb: no such file" >&2; exit 3`)),
			},
		},
	}}
}

// demoPods are the application's pods, which Velero restores: the seeds' legacy-app with init and exec
// hook annotations, a two-container postgres pod, and a cache pod.
func demoPods() []*corev1.Pod {
	pod := func(name, app string, annotations map[string]string, containers ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: demoNS, Name: name, Annotations: annotations,
			Labels: map[string]string{"app": app}}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: app + ":1",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}})
		}
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		return p
	}
	return []*corev1.Pod{
		pod("legacy-app", "legacy", map[string]string{
			hook.InitContainerImageAnnotation: "alpine:3.18",
			hook.InitCommandAnnotation:        `["/bin/sh", "-c", "echo Migrating...; sleep 2"]`,
			hook.ExecCommandAnnotation:        `["/bin/sh", "-c", "echo '{\"database\": \"restored\"}' > db-config.json && cat db-config.json"]`,
		}, "main-app"),
		pod("postgres-0", "postgres", nil, "postgres", "sidecar"),
		pod("api-0", "api", nil, "api"),
		pod("api-1", "api", nil, "api"),
		pod("cache-0", "cache", nil, "redis"),
	}
}

// checkOutcome lists how the finished run differs from what the demo expects.
func checkOutcome(run *v1alpha1.RestoreHookRun) []string {
	var problems []string
	st := run.Status
	if st.Phase != v1alpha1.RunPhasePartiallyFailed {
		problems = append(problems, fmt.Sprintf("run phase %s, want PartiallyFailed", st.Phase))
	}
	if st.HooksAttempted != 7 || st.HooksFailed != 1 || st.HooksSucceeded != 6 {
		problems = append(problems, fmt.Sprintf("hooks attempted/succeeded/failed %d/%d/%d, want 7/6/1",
			st.HooksAttempted, st.HooksSucceeded, st.HooksFailed))
	}
	// Per entry: its last hook's end and its first hook's start (records are stamped to the second).
	lastEnd, firstStart := map[string]time.Time{}, map[string]time.Time{}
	migrations := 0
	for _, r := range st.Hooks {
		if r.Type != v1alpha1.HookTypeExec || r.Source != v1alpha1.HookSourceSpec {
			continue
		}
		if r.Hook == "api-migrate" {
			migrations++
		}
		if r.CompletionTime != nil && r.CompletionTime.After(lastEnd[r.Hook]) {
			lastEnd[r.Hook] = r.CompletionTime.Time
		}
		if r.StartTime != nil && (firstStart[r.Hook].IsZero() || r.StartTime.Time.Before(firstStart[r.Hook])) {
			firstStart[r.Hook] = r.StartTime.Time
		}
	}
	if migrations != 1 {
		problems = append(problems, fmt.Sprintf("the migration has %d records, want 1 (singlePod)", migrations))
	}
	// dependsOn: the migration began after the database's last hook ended, the warm-up after the migration.
	for _, pair := range [][2]string{{"postgres-restore", "api-migrate"}, {"api-migrate", "cache-warmup"}} {
		end, start := lastEnd[pair[0]], firstStart[pair[1]]
		if end.IsZero() || start.IsZero() || start.Before(end) {
			problems = append(problems, fmt.Sprintf("%s did not start after %s ended", pair[1], pair[0]))
		}
	}
	for _, r := range st.Hooks {
		wantFail := r.Hook == "cache-warmup"
		switch {
		case wantFail && (r.Phase != v1alpha1.HookPhaseFailed || r.Reason != v1alpha1.ReasonNonZeroExit ||
			r.ExitCode == nil || *r.ExitCode != 3):
			problems = append(problems, fmt.Sprintf("%s %s: %s %s, want Failed NonZeroExit exit 3", r.Pod, r.Hook, r.Phase, r.Reason))
		case !wantFail && r.Phase != v1alpha1.HookPhaseSucceeded:
			problems = append(problems, fmt.Sprintf("%s %s %s: %s %s (%s), want Succeeded", r.Pod, r.Type, r.Hook, r.Phase, r.Reason, r.Message))
		}
	}
	return problems
}

// checkVelero lists how Velero's own view of the restore differs from what the demo expects: the Restore
// Completed, no hook of Velero's failed. nil (simulated Velero): nothing to check.
func checkVelero(r *velerov1.Restore) []string {
	if r == nil {
		return nil
	}
	var problems []string
	if r.Status.Phase != velerov1.RestorePhaseCompleted {
		problems = append(problems, fmt.Sprintf("Velero's Restore %s, want Completed (%s)", r.Status.Phase, localcluster.RestoreSummary(r)))
	}
	if r.Status.HookStatus != nil && r.Status.HookStatus.HooksFailed > 0 {
		problems = append(problems, fmt.Sprintf("Velero's server failed %d hooks", r.Status.HookStatus.HooksFailed))
	}
	if r.Status.HookStatus != nil && r.Status.HookStatus.HooksAttempted > 0 {
		problems = append(problems, fmt.Sprintf("Velero's server ran %d hooks itself: the operator should have taken every annotation exec hook over",
			r.Status.HookStatus.HooksAttempted))
	}
	return problems
}

// printVeleroView prints Velero's own account of the restore, next to the run's.
func printVeleroView(r *velerov1.Restore) {
	fmt.Printf("Velero's view of Restore %s/%s: %s\n", r.Namespace, r.Name, localcluster.RestoreSummary(r))
	if r.Status.HookStatus != nil && r.Status.HookStatus.HooksAttempted > 0 {
		fmt.Printf("  Velero's server ran exec hooks itself: %d (annotation hooks of pods no run had taken over)\n\n",
			r.Status.HookStatus.HooksAttempted)
	} else {
		fmt.Println("  Velero's server ran no exec hook itself: the pod webhook took the annotation hooks over, so each ran once, here")
		fmt.Println()
	}
}

// printDescribe prints the finished run the way `kubectl restorehooks describe` shows it: the same
// rendering (internal/describe), so the demo shows the real tool's output.
func printDescribe(run *v1alpha1.RestoreHookRun) error {
	fmt.Printf("\n$ kubectl restorehooks describe -n %s %s\n", run.Namespace, run.Name)
	colour := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "" //nolint:gosec // a file descriptor fits an int
	if err := describe.Describe(os.Stdout, run, describe.Options{Color: colour, Now: time.Now()}); err != nil {
		return err
	}
	fmt.Println()
	return nil
}

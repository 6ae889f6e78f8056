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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const (
	veleroNS      = "velero"
	containerName = "app"
)

// bench holds what every measurement shares: the cluster, clients, the manager binary and its identity.
type bench struct {
	c          config
	local      *localcluster.Local
	admin      *rest.Config
	cl         client.Client
	cs         *kubernetes.Clientset
	work       string
	managerBin string
	kubeconfig string // the manager's, as user managerUser
	auditLog   string
}

func newBench(ctx context.Context, c config, local *localcluster.Local, work, managerBin, auditLog string) (*bench, error) {
	admin := rest.CopyConfig(local.Config)
	admin.QPS = -1 // no client-side throttling: set-up should not be what takes the time
	cl, err := client.New(admin, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	b := &bench{c: c, local: local, admin: admin, cl: cl, cs: cs, work: work, managerBin: managerBin, auditLog: auditLog}
	if err := b.ensureNamespace(ctx, veleroNS); err != nil {
		return nil, err
	}
	user, err := local.Env.AddUser(envtestUser(), nil)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", managerUser, err)
	}
	// An admin kubeconfig beside the logs, to look at the cluster (or profile the API server) meanwhile.
	if err := localcluster.WriteKubeconfig(local.Config, filepath.Join(work, "admin.kubeconfig")); err != nil {
		return nil, err
	}
	b.kubeconfig = filepath.Join(work, "manager.kubeconfig")
	if err := localcluster.WriteKubeconfig(user.Config(), b.kubeconfig); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) ensureNamespace(ctx context.Context, name string) error {
	err := b.cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// repResult is one repetition of throughput and floor.
type repResult struct {
	run, floor      time.Duration
	floorErrors     int
	peakRSS         int64
	idleRSS         int64 // the manager's VmRSS with the pods cached, before the run
	statusBytes     int
	objectBytes     int
	phase           v1alpha1.RunPhase
	succeeded       int32
	omitted         int32
	api             auditCounts // manager lifetime up to the run's completion
	apiDuringRun    auditCounts // from the run's creation to its completion
	runFirst        bool
	setupPodRunning time.Duration
	runCPU          cpuSnapshot
	floorCPU        cpuSnapshot
	statusWrites    int
	events          int
	retried         int
	failures        []string
}

// throughputRep measures (1) and (2) once, with a manager process of its own, on pods of their own.
func (b *bench) throughputRep(ctx context.Context, rep int) (_ *repResult, err error) {
	ns := fmt.Sprintf("bench-%d", rep)
	restoreName := fmt.Sprintf("bench-%d", rep)
	r := &repResult{runFirst: rep%2 == 1}
	if err := b.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}

	logStep("rep %d: starting the manager", rep)
	mgr, err := b.startManager(ctx, fmt.Sprintf("rep%d", rep))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, mgr.stop()) }()
	managerStart := mgr.started

	restore, err := b.createRestore(ctx, restoreName)
	if err != nil {
		return nil, err
	}
	logStep("rep %d: creating %d pods on kwok's node", rep, b.c.pods)
	setup := time.Now()
	pods, err := b.createPods(ctx, ns, restoreName, b.c.pods, nil, b.local.Kwok.CreateManagedPod)
	if err != nil {
		return nil, err
	}
	// Velero finishes the Restore once it has created the pods; they start afterwards.
	if err := b.setRestorePhase(ctx, restore, velerov1.RestorePhaseCompleted); err != nil {
		return nil, err
	}
	if err := b.waitPodsRunning(ctx, ns, restoreName, b.c.pods); err != nil {
		return nil, err
	}
	r.setupPodRunning = time.Since(setup)
	if r.idleRSS, err = mgr.rss(); err != nil {
		return nil, err
	}
	logStep("rep %d: %d pods Running after %s; manager VmRSS %d MiB (pods cached, no run)", rep, b.c.pods,
		r.setupPodRunning.Round(time.Millisecond), r.idleRSS>>20)

	measureRun := func() error {
		logStep("rep %d: throughput: one run, %d pods x %d hooks", rep, b.c.pods, b.c.hooks)
		m, err := b.measureRun(ctx, ns, restoreName, mgr)
		if err != nil {
			return err
		}
		r.run, r.peakRSS, r.statusBytes, r.objectBytes = m.elapsed, m.peakRSS, m.statusBytes, m.objectBytes
		r.phase, r.succeeded, r.omitted, r.runCPU = m.phase, m.succeeded, m.omitted, m.cpu
		r.statusWrites, r.events, r.retried, r.failures = m.statusWrites, m.events, m.retried, m.failures
		logStep("rep %d: run %s in %s (%d hooks succeeded, %d retried, %d omitted from status; status %d bytes, %d status writes, %d events; manager VmHWM %d MiB); %s",
			rep, m.phase, m.elapsed.Round(time.Millisecond), m.succeeded, m.retried, m.omitted, m.statusBytes, m.statusWrites, m.events, m.peakRSS>>20, m.cpu)
		// Give the audit log a moment, then count the manager's requests.
		time.Sleep(500 * time.Millisecond)
		if r.api, err = countAudit(b.auditLog, managerUser, managerStart, m.done); err != nil {
			return err
		}
		r.apiDuringRun, err = countAudit(b.auditLog, managerUser, m.created, m.done)
		return err
	}
	measureFloor := func() error {
		if !b.c.floor {
			return nil
		}
		logStep("rep %d: floor: %d execs, one goroutine per pod, no operator", rep, b.c.pods*b.c.hooks)
		waitAPIProfile := func() error { return nil }
		if b.c.profile {
			waitAPIProfile = profileAPIServer(ctx, b.cs.CoreV1().RESTClient(), b.c.profileSeconds, b.work,
				fmt.Sprintf("floor%d-apiserver-cpu", rep))
		}
		before := takeCPU()
		r.floor, r.floorErrors = b.floor(ctx, pods)
		r.floorCPU = takeCPU().since(before)
		logStep("rep %d: floor %s (%d execs retried); %s", rep, r.floor.Round(time.Millisecond), r.floorErrors, r.floorCPU)
		return waitAPIProfile()
	}
	if r.runFirst {
		if err := measureRun(); err != nil {
			return nil, err
		}
		if err := measureFloor(); err != nil {
			return nil, err
		}
	} else {
		if err := measureFloor(); err != nil {
			return nil, err
		}
		if err := measureRun(); err != nil {
			return nil, err
		}
	}
	if r.phase != v1alpha1.RunPhaseCompleted {
		return r, fmt.Errorf("the run ended %s, want Completed; first failures: %s", r.phase, strings.Join(r.failures, "; "))
	}
	if want := int32(b.c.pods * b.c.hooks); r.succeeded != want {
		return r, fmt.Errorf("%d hooks succeeded, want %d", r.succeeded, want)
	}

	if err := mgr.stop(); err != nil {
		return r, err
	}
	logStep("rep %d: cleaning up", rep)
	// The run goes too: the next repetition's manager would cache its thousands of records, and each
	// repetition is to measure one restore, not the history of earlier ones.
	if err := b.cl.DeleteAllOf(ctx, &v1alpha1.RestoreHookRun{}, client.InNamespace(ns)); err != nil {
		return r, fmt.Errorf("deleting the run of %s: %w", ns, err)
	}
	return r, b.deletePods(ctx, ns)
}

// runMeasurement is what one throughput measurement saw.
type runMeasurement struct {
	created, done time.Time
	elapsed       time.Duration
	peakRSS       int64
	statusBytes   int
	objectBytes   int
	phase         v1alpha1.RunPhase
	succeeded     int32
	omitted       int32
	cpu           cpuSnapshot
	statusWrites  int
	events        int
	retried       int // hooks recorded with more than one attempt (of the records kept in the status)
	// With --profile: the manager's largest heap in use, goroutine stack memory and goroutine count.
	peakHeap, peakStack int64
	peakGoroutines      int
	failures            []string
}

func (b *bench) measureRun(ctx context.Context, ns, restoreName string, mgr *managerProc) (*runMeasurement, error) {
	name := "bench-run"
	w, err := watchRunPhase(ctx, b.cs.CoreV1().RESTClient(), ns, name)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	run := benchRun(ns, name, restoreName, b.c.hooks)
	m := &runMeasurement{}
	before := takeCPU()
	m.created = time.Now()
	if err := b.cl.Create(ctx, run); err != nil {
		return nil, fmt.Errorf("creating run: %w", err)
	}
	var prof *profiler
	waitAPIProfile := func() error { return nil }
	if b.c.profile {
		prof = startProfiles(ctx, mgr.pprofAddr, b.work, mgr.name, b.c.profileSeconds)
		waitAPIProfile = profileAPIServer(ctx, b.cs.CoreV1().RESTClient(), b.c.profileSeconds, b.work, mgr.name+"-apiserver-cpu")
	}
	phase, at, err := w.waitTerminal(ctx, mgr.exited)
	if err != nil {
		return nil, err
	}
	m.cpu = takeCPU().since(before)
	if prof != nil {
		if err := errors.Join(prof.end(ctx), waitAPIProfile()); err != nil {
			return nil, err
		}
		m.peakHeap, m.peakStack, m.peakGoroutines = prof.peakHeap, prof.peakStack, prof.peakGoroutines
		logStep("manager (sampled each second while profiling): heap in use up to %d MiB, goroutine stacks up to %d MiB, up to %d goroutines",
			m.peakHeap>>20, m.peakStack>>20, m.peakGoroutines)
	}
	m.statusWrites = int(w.modified.Load())
	m.done, m.phase = at, v1alpha1.RunPhase(phase)
	m.elapsed = at.Sub(m.created)
	if m.peakRSS, err = mgr.peakRSS(); err != nil {
		return nil, err
	}
	if err := b.cl.Get(ctx, client.ObjectKeyFromObject(run), run); err != nil {
		return nil, err
	}
	st, err := json.Marshal(run.Status)
	if err != nil {
		return nil, err
	}
	obj, err := json.Marshal(run)
	if err != nil {
		return nil, err
	}
	m.statusBytes, m.objectBytes = len(st), len(obj)
	// Kept beside the logs: the records' start and completion times show how the run went.
	if err := os.WriteFile(filepath.Join(b.work, "run-"+ns+".json"), obj, 0o644); err != nil {
		return nil, err
	}
	m.succeeded, m.omitted = run.Status.HooksSucceeded, run.Status.HooksOmitted
	for i := range run.Status.Hooks {
		h := &run.Status.Hooks[i]
		if h.Attempts > 1 {
			m.retried++
		}
		if h.Phase != v1alpha1.HookPhaseSucceeded && len(m.failures) < 3 {
			m.failures = append(m.failures, fmt.Sprintf("%s %s[%d] %s %s (%d attempts): %s",
				h.Pod, h.Hook, h.Index, h.Phase, h.Reason, h.Attempts, h.Message))
		}
	}
	var events eventsv1.EventList
	if err := b.cl.List(ctx, &events, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range events.Items {
		if events.Items[i].ReportingController == "restore-hook-operator" {
			m.events++
		}
	}
	return m, nil
}

// benchRun is the throughput run: one hook spec, hooks exec hooks of `/bin/sh -c true` in container app.
// Like the floor, which sends a failed exec again (up to twice), a hook gets two retries: kwok drops an
// exec connection now and then under load, and both sides should complete the same work.
func benchRun(ns, name, restoreName string, hooks int) *v1alpha1.RestoreHookRun {
	spec := v1alpha1.RestoreResourceHookSpec{Name: "bench", IncludedNamespaces: []string{ns}}
	for range hooks {
		spec.PostHooks = append(spec.PostHooks, v1alpha1.RestoreResourceHook{Exec: &v1alpha1.ExecRestoreHook{
			Container: containerName, Command: []string{"/bin/sh", "-c", "true"},
			Retries: ptrTo[int32](2), RetryDelay: &metav1.Duration{Duration: 100 * time.Millisecond},
		}})
	}
	return &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.RestoreHookRunSpec{
			RestoreRef: v1alpha1.RestoreReference{Name: restoreName, Namespace: veleroNS},
			Hooks:      v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{spec}},
		},
	}
}

func (b *bench) createRestore(ctx context.Context, name string) (*velerov1.Restore, error) {
	r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: name},
		Spec: velerov1.RestoreSpec{BackupName: "nightly"}}
	if err := b.cl.Create(ctx, r); err != nil {
		return nil, fmt.Errorf("creating restore %s: %w", name, err)
	}
	return r, b.setRestorePhase(ctx, r, velerov1.RestorePhaseInProgress)
}

// setRestorePhase writes the Restore's phase as Velero does (its CRD has no status subresource), with a
// completion time for a finished phase.
func (b *bench) setRestorePhase(ctx context.Context, r *velerov1.Restore, phase velerov1.RestorePhase) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := b.cl.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
			return err
		}
		r.Status.Phase = phase
		if phase == velerov1.RestorePhaseCompleted {
			now := metav1.Now()
			r.Status.CompletionTimestamp = &now
		}
		return b.cl.Update(ctx, r)
	})
}

type podRef struct{ namespace, name string }

// createPods creates n restored pods (one container, app) with createWorkers creations in flight.
func (b *bench) createPods(ctx context.Context, ns, restoreName string, n int, annotate func(i int) map[string]string,
	create func(context.Context, *corev1.Pod) error) ([]podRef, error) {
	refs := make([]podRef, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.c.createWorkers)
	for range min(b.c.createWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
					Namespace: ns, Name: fmt.Sprintf("p-%05d", i),
					Labels: map[string]string{velerov1.RestoreNameLabel: restoreName, "app": "bench"},
				}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: containerName, Image: "busybox"}}}}
				if annotate != nil {
					p.Annotations = annotate(i)
				}
				if err := create(ctx, p); err != nil {
					errs <- err
					return
				}
				refs[i] = podRef{namespace: ns, name: p.Name}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return refs, ctx.Err()
}

// waitPodsRunning waits until n pods of the restore in ns are Running with their container Running.
func (b *bench) waitPodsRunning(ctx context.Context, ns, restoreName string, n int) error {
	running := 0
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		var list corev1.PodList
		if err := b.cl.List(ctx, &list, client.InNamespace(ns),
			client.MatchingLabels{velerov1.RestoreNameLabel: restoreName}); err != nil {
			return false, nil
		}
		running = 0
		for i := range list.Items {
			p := &list.Items[i]
			if p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 &&
				p.Status.ContainerStatuses[0].State.Running != nil {
				running++
			}
		}
		return running == n, nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d pods Running: %w", running, n, err)
	}
	return nil
}

// deletePods deletes every pod of ns at once (grace period 0) and waits until they are gone.
func (b *bench) deletePods(ctx context.Context, ns string) error {
	if err := b.cl.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0)); err != nil {
		return fmt.Errorf("deleting the pods of %s: %w", ns, err)
	}
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		var list corev1.PodList
		if err := b.cl.List(ctx, &list, client.InNamespace(ns), client.Limit(1)); err != nil {
			return false, nil
		}
		return len(list.Items) == 0, nil
	})
}

// readFileInt64 reads a file holding one decimal integer (a hook's `date +%s%N`).
func readFileInt64(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var v int64
	if _, err := fmt.Sscanf(string(data), "%d", &v); err != nil {
		return 0, false
	}
	return v, true
}

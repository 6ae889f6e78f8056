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

// Package controllers holds the RestoreHookRun reconciler.
//
// # Design
//
// One reconcile pass of a run observes, decides and acts, in that order:
//
//  1. Observe: the run, its Velero Restore and the pods labelled velero.io/restore-name=<restore>, all
//     from one shared cache. The cache holds only labelled pods (a label-filtered informer: one LIST and
//     one WATCH for all pods of all restores, where Velero opens one watch per pod), indexed by restore
//     name. Plus, from the dispatcher, which execs are in flight and which attempts finished.
//  2. Decide: plan.Decide, a pure function, turns that into the new hook records and the hooks to start
//     (SPEC §4: per-container Running/Ready gates, one hook at a time per pod, waits, Fail policy,
//     retries); decidePhase and the status setters turn records into phase, counters and conditions.
//  3. Act: one optimistic-concurrency status write (resourceVersion checked) that records every started
//     hook as Running, then the execs are handed to the dispatcher. A hook is therefore persisted as
//     Running before its command is sent, and a pass computed from a stale cache loses the write
//     conflict instead of starting anything. Events and metrics follow the write.
//
// Nothing blocks a reconcile worker: a wait is a deadline the pass requeues for; an exec runs on a
// dispatcher goroutine that records its attempt and wakes the run through a channel source. Passes for
// one run coalesce in the workqueue, and status writes are spaced at least minWriteInterval apart, so a
// burst of finished execs becomes one write.
//
// At scale the status write is the cost to watch: writing a status of 2,000 records costs the API
// server about 0.6 CPU-seconds, as much as fifty execs. So a write starts as many hooks as it can: at
// most --max-concurrent-execs commands run at once, and up to --max-queued-execs more hooks are
// dispatched (recorded Running) to wait in the dispatcher for a stream. While a run has hooks waiting
// there, a new write could only queue more behind them, so its writes wait for the queue to drain (at
// most queuedWriteInterval, to show progress; a failure is written at once). A thousand-pod run then
// takes about five writes instead of one per handful of finished hooks.
//
// After a restart, records found Running with no exec in flight in this process are Interrupted: the
// command may have run, so it is never sent again unless retries allow. A status write that fails
// without saying whether it landed (a timeout) holds its execs back; a later pass that finds them
// persisted Running sends them then, since this process knows it never did. Once a Restore is deleted
// nothing new starts, and the run ends Failed when the hooks already executing have finished.
package controllers

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// Field indexes of the shared cache.
const (
	// podRestoreIndex indexes labelled pods by their velero.io/restore-name value.
	podRestoreIndex = "restorehooks.io/restore-label"
	// runRestoreLabelIndex indexes runs by the label value Velero gives their Restore's pods.
	runRestoreLabelIndex = "restorehooks.io/restore-label"
	// runRestoreIndex indexes runs by the namespace/name of their Restore.
	runRestoreIndex = "restorehooks.io/restore"
)

// Options configure the reconciler.
type Options struct {
	// VeleroNamespace is where Restores live when a run's restoreRef has no namespace.
	VeleroNamespace string
	// AdminNamespaces may hold runs that reach pods in any namespace; other runs reach only their own.
	AdminNamespaces []string
	// MaxConcurrentExecs bounds the commands running at once across all runs; 0 means no bound.
	MaxConcurrentExecs int
	// MaxQueuedExecs is how many more hooks may be dispatched (recorded Running) to wait for one of the
	// MaxConcurrentExecs streams, so that one status write can start many hooks. Ignored without a bound.
	MaxQueuedExecs int
	// MaxConcurrentReconciles is the number of reconcile workers.
	MaxConcurrentReconciles int
	// MinWriteInterval spaces status writes of one run, so bursts of results coalesce.
	MinWriteInterval time.Duration
	// SkipNameValidation lets one process start the controller more than once (tests that restart the
	// manager).
	SkipNameValidation bool
}

// RestoreHookRunReconciler runs the hooks of RestoreHookRuns.
type RestoreHookRunReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Exec     exec.Executor
	Clock    clock.Clock
	Options  Options
	// FinishedRuns, when the manager's cache was built with it (CacheOptions), is told which runs have
	// execs in flight, so it trims only finished idle runs.
	FinishedRuns *FinishedRuns

	dispatch *dispatcher
	scope    scope.Scope
	// podIndex is the pod informer's index (podRestoreIndex); nil for a reconciler not set up with a
	// manager (tests driving Reconcile on a fake client), which lists pods through its client.
	podIndex toolscache.Indexer
	phases   runPhases

	mu sync.Mutex
	// uids is the run each name was last seen as: a run deleted and created again under its name (one
	// request may cover both) is told apart by its UID, so the old one's execs and state are dropped.
	uids      map[types.NamespacedName]types.UID
	lastWrite map[types.UID]time.Time
	latest    map[types.UID]*v1alpha1.RestoreHookRun

	// successEvents budgets RestoreHookSucceeded events on pods; suppressed counts, per run, those the
	// budget left out (its closing event says how many).
	successEvents flowcontrol.PassiveRateLimiter
	suppressed    map[types.UID]int
}

// queuedWriteInterval spaces the status writes of a run while its hooks wait in the exec queue.
const queuedWriteInterval = 5 * time.Second

// Success events on pods are best-effort, like every Event: a burst of successEventBurst, then
// successEventsPerSecond. An Event costs the API server and etcd about as much CPU as a fifth of an
// exec, so one per hook of a thousand-pod restore would slow the restore down by a tenth and fill the
// namespace's events; failures are always reported, and every outcome is in the run's status.
const (
	successEventBurst      = 100
	successEventsPerSecond = 5
)

// CacheOptions restricts the manager's pod cache to pods Velero labelled as restored, so the operator
// never holds (or watches) the cluster's other pods.
//
// finished trims the records of finished runs from the cache (nil: runs are cached whole); the
// reconciler given the same FinishedRuns registers with it.
func CacheOptions(finished *FinishedRuns) cache.Options {
	sel := labels.NewSelector()
	req, err := labels.NewRequirement(velerov1.RestoreNameLabel, "exists", nil)
	if err != nil {
		panic(err)
	}
	byObject := map[client.Object]cache.ByObject{
		&corev1.Pod{}: {Label: sel.Add(*req), Transform: trimPod},
	}
	if finished != nil {
		byObject[&v1alpha1.RestoreHookRun{}] = cache.ByObject{Transform: finished.transform}
	}
	return cache.Options{
		ByObject: byObject,
		// Nothing reads managedFields; for thousands of pods they are much of the cache's memory.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookruns,verbs=get;list;watch
// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookruns/status,verbs=update;patch
// +kubebuilder:rbac:groups=velero.io,resources=restores,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods/exec,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler, its indexes and its watches.
func (r *RestoreHookRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
	if r.FinishedRuns != nil {
		r.FinishedRuns.register(r.dispatch.busy)
	}
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := r.indexPods(ctx, mgr); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.RestoreHookRun{}, runRestoreLabelIndex, runRestoreLabelIndexValue); err != nil {
		return fmt.Errorf("indexing runs by restore label: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.RestoreHookRun{}, runRestoreIndex, r.runRestoreIndexValue); err != nil {
		return fmt.Errorf("indexing runs by restore: %w", err)
	}

	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.RestoreHookRun{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletedOrCreated()))).
		Watches(&velerov1.Restore{}, handler.EnqueueRequestsFromMapFunc(r.runsForRestore)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.runsForPod)).
		WatchesRawSource(source.Channel(r.dispatch.notify, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles,
			SkipNameValidation: &r.Options.SkipNameValidation, RateLimiter: runRateLimiter()}).
		Named("restorehookrun").
		Complete(r)
}

// setDefaults fills in the options left empty and makes the per-run state.
func (r *RestoreHookRunReconciler) setDefaults() {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Options.VeleroNamespace == "" {
		r.Options.VeleroNamespace = "velero"
	}
	if r.Options.MaxConcurrentReconciles <= 0 {
		r.Options.MaxConcurrentReconciles = 4
	}
	r.scope = scope.New(r.Options.AdminNamespaces...)
	if len(r.Options.AdminNamespaces) == 0 {
		r.scope.AdminNamespaces.Insert(r.Options.VeleroNamespace)
	}
	r.dispatch = newDispatcher(r.Exec, r.Clock, r.Options.MaxConcurrentExecs, r.Options.MaxQueuedExecs)
	r.uids = map[types.NamespacedName]types.UID{}
	r.lastWrite = map[types.UID]time.Time{}
	r.latest = map[types.UID]*v1alpha1.RestoreHookRun{}
	r.successEvents = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(successEventsPerSecond, successEventBurst, r.Clock)
	r.suppressed = map[types.UID]int{}
}

// indexPods indexes the cached pods by the restore-name label Velero puts on them. A pass lists the pods
// of its restore from the informer's own index (podIndex): the cached pods themselves, read-only, where
// a list through the client, even without deep copies, copies every pod struct into a PodList (1.2 KB
// each: 12 MB per pass of a 10,000-pod restore). controller-runtime's cache hands out client-go's
// SharedIndexInformer, which exposes its index.
func (r *RestoreHookRunReconciler) indexPods(ctx context.Context, mgr ctrl.Manager) error {
	inf, err := mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("getting the pod informer: %w", err)
	}
	withIndexer, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return fmt.Errorf("the manager's pod informer (%T) exposes no index", inf)
	}
	err = inf.AddIndexers(toolscache.Indexers{podRestoreIndex: func(obj any) ([]string, error) {
		o, ok := obj.(client.Object)
		if !ok {
			return nil, nil
		}
		return podRestoreIndexValue(o), nil
	}})
	if err != nil {
		return fmt.Errorf("indexing pods by restore: %w", err)
	}
	r.podIndex = withIndexer.GetIndexer()
	return nil
}

// restoredPods returns the cached pods labelled as restored by the Restore named name, for reading only.
func (r *RestoreHookRunReconciler) restoredPods(ctx context.Context, name string) ([]*corev1.Pod, error) {
	value := label.GetValidName(name)
	if r.podIndex != nil {
		objs, err := r.podIndex.ByIndex(podRestoreIndex, value)
		if err != nil {
			return nil, err
		}
		pods := make([]*corev1.Pod, 0, len(objs))
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok {
				pods = append(pods, p)
			}
		}
		return pods, nil
	}
	var list corev1.PodList
	if err := r.List(ctx, &list, client.MatchingFields{podRestoreIndex: value}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	return pods, nil
}

// podRestoreIndexValue indexes a pod by the restore-name label Velero puts on it.
func podRestoreIndexValue(o client.Object) []string {
	if v := o.GetLabels()[velerov1.RestoreNameLabel]; v != "" {
		return []string{v}
	}
	return nil
}

// runRestoreLabelIndexValue indexes a run by the label value its restored pods carry.
func runRestoreLabelIndexValue(o client.Object) []string {
	return []string{label.GetValidName(o.(*v1alpha1.RestoreHookRun).Spec.RestoreRef.Name)}
}

// runRestoreIndexValue indexes a run by the namespace/name of its Restore.
func (r *RestoreHookRunReconciler) runRestoreIndexValue(o client.Object) []string {
	return []string{r.restoreKey(o.(*v1alpha1.RestoreHookRun)).String()}
}

// runRateLimiter spaces the retries of a run (or policy) whose pass failed: controller-runtime's default backs off to
// 1000 s, which on a flaky API server (a dozen failed passes in a row) would leave hooks waiting for
// minutes after the server recovered. Exponential from 5 ms to 30 s per run, within an overall 10 qps.
func runRateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, 30*time.Second),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// deletedOrCreated lets create and delete events of runs through; status-only updates are our own
// writes and need no pass.
func deletedOrCreated() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}

func (r *RestoreHookRunReconciler) restoreKey(run *v1alpha1.RestoreHookRun) types.NamespacedName {
	ns := run.Spec.RestoreRef.Namespace
	if ns == "" {
		ns = r.Options.VeleroNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: run.Spec.RestoreRef.Name}
}

func (r *RestoreHookRunReconciler) runsForRestore(ctx context.Context, o client.Object) []reconcile.Request {
	return r.runsMatching(ctx, client.MatchingFields{runRestoreIndex: client.ObjectKeyFromObject(o).String()})
}

func (r *RestoreHookRunReconciler) runsForPod(ctx context.Context, o client.Object) []reconcile.Request {
	v := o.GetLabels()[velerov1.RestoreNameLabel]
	if v == "" {
		return nil
	}
	return r.runsMatching(ctx, client.MatchingFields{runRestoreLabelIndex: v})
}

func (r *RestoreHookRunReconciler) runsMatching(ctx context.Context, sel client.MatchingFields) []reconcile.Request {
	var runs v1alpha1.RestoreHookRunList
	if err := r.List(ctx, &runs, sel); err != nil {
		logf.FromContext(ctx).Error(err, "Listing runs for a watch event")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(runs.Items))
	for i := range runs.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&runs.Items[i])})
	}
	return reqs
}

// explicitlyTargets reports whether a run's hook specs name a namespace outright (not through "*" or an
// empty list): a pod there that the run may not touch gets Forbidden records rather than being ignored.
func explicitlyTargets(spec *v1alpha1.RestoreHookRunSpec, namespace string) bool {
	for _, rs := range spec.Hooks.Resources {
		var explicit []string
		for _, p := range rs.IncludedNamespaces {
			if p != "*" {
				explicit = append(explicit, p)
			}
		}
		if len(explicit) > 0 && hook.NamespaceMatches(namespace, explicit, rs.ExcludedNamespaces) {
			return true
		}
	}
	return false
}

// observation is what one pass knows about a run: the run, its Restore and the pods in scope, all read
// from the cache and read-only (the planner never mutates its input).
type observation struct {
	run       *v1alpha1.RestoreHookRun
	restore   *velerov1.Restore // nil while it does not exist
	pods      []*corev1.Pod     // restored pods the run may touch
	forbidden []*corev1.Pod     // restored pods its specs name outright but it may not touch
	now       time.Time
}

// decision is what one pass decided: the status to write and the hooks to start once it is written.
type decision struct {
	next        *v1alpha1.RestoreHookRun
	out         plan.Output
	phase       phaseDecision
	attempts    []plan.Attempt // exec results this status persists
	restoreGone bool
	written     bool      // the status changed and was written: its starts and transitions are to act on
	settled     time.Time // when the Restore's last pods are surely in the cache; hooks held till then look again
}

func (d *decision) recordOutput() bool {
	return d.next.Spec.RecordOutput == nil || *d.next.Spec.RecordOutput
}

// Reconcile runs one pass for a run: observe, decide, record the decision in the status, then act on it
// (start execs, emit events).
func (r *RestoreHookRunReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run, err := r.getRun(ctx, req.NamespacedName)
	if run == nil || err != nil {
		return ctrl.Result{}, err
	}
	if run.Status.Phase.IsTerminal() && !r.dispatch.busy(run.UID) {
		r.phases.set(run.UID, run.Status.Phase)
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	if wait := r.writePacing(run.UID, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	obs, err := r.observe(ctx, run, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := r.decide(obs)
	if res, err, written := r.record(ctx, obs, d); !written {
		return res, err
	}
	r.act(ctx, obs, d)
	logf.FromContext(ctx).V(1).Info("Reconciled run", "phase", d.next.Status.Phase, "started", len(d.out.Starts),
		"summary", d.next.Status.Summary)
	if d.next.Status.Phase.IsTerminal() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: requeueAfter(now, d.out.NextCheck, d.phase.recheck, d.settled)}, nil
}

// getRun returns the run to reconcile, or nil when there is none to act on: a run that is gone or being
// deleted is forgotten, and so is an older run that had the same name.
func (r *RestoreHookRunReconciler) getRun(ctx context.Context, name types.NamespacedName) (*v1alpha1.RestoreHookRun, error) {
	// The run is read-only in a pass (decide works on a copy): no deep copy from the cache, which for a
	// run of thousands of records would be megabytes on every wake-up.
	cached := &v1alpha1.RestoreHookRun{}
	if err := r.Get(ctx, name, cached, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetName(name, "")
			return nil, nil
		}
		return nil, fmt.Errorf("getting run %s: %w", name, err)
	}
	r.forgetName(name, cached.UID)
	if cached.DeletionTimestamp != nil {
		r.forgetName(name, "")
		return nil, nil
	}
	return r.freshest(cached), nil
}

// writePacing returns how long a pass must wait before it may write the run's status again.
func (r *RestoreHookRunReconciler) writePacing(uid types.UID, now time.Time) time.Duration {
	r.mu.Lock()
	last := r.lastWrite[uid]
	r.mu.Unlock()
	// Space status writes: a pass inside the interval waits for its end, so results coalesce.
	if wait := r.Options.MinWriteInterval - now.Sub(last); wait > 0 {
		return wait
	}
	// While hooks of this run wait in the exec queue, a write could only add starts behind them: let
	// results batch up, and write at most every queuedWriteInterval to show progress. A failure is
	// written at once (it may abort the run, which takes the queued hooks back).
	if r.dispatch.queued(uid) > 0 && !r.dispatch.failing(uid) {
		return queuedWriteInterval - now.Sub(last)
	}
	return 0
}

// observe reads the run's Restore and the restored pods it may touch.
func (r *RestoreHookRunReconciler) observe(ctx context.Context, run *v1alpha1.RestoreHookRun, now time.Time) (*observation, error) {
	obs := &observation{run: run, now: now}
	restore := &velerov1.Restore{}
	if err := r.Get(ctx, r.restoreKey(run), restore); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("getting restore %s: %w", r.restoreKey(run), err)
		}
	} else {
		obs.restore = restore
	}
	// Pods are found by the label Velero puts on them, which names the Restore; they outlive it.
	// Read-only from here on: no copy of any pod per pass.
	pods, err := r.restoredPods(ctx, run.Spec.RestoreRef.Name)
	if err != nil {
		return nil, fmt.Errorf("listing pods of restore %s: %w", run.Spec.RestoreRef.Name, err)
	}
	for _, p := range pods {
		switch {
		case r.scope.MayTouch(run.Namespace, p.Namespace):
			obs.pods = append(obs.pods, p)
		case explicitlyTargets(&run.Spec, p.Namespace):
			obs.forbidden = append(obs.forbidden, p)
		}
	}
	return obs, nil
}

// decide computes the run's next status from what was observed and what the dispatcher holds: the
// planner's records, the bound on their size, counters, phase and conditions. It writes nothing.
func (r *RestoreHookRunReconciler) decide(obs *observation) *decision {
	run, now := obs.run, obs.now
	d := &decision{next: run.DeepCopy()}
	st := &d.next.Status
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	maxWait := hook.ResolveMaxWait(&run.Spec)
	r.dispatch.sendLanded(run)
	d.attempts = r.dispatch.attempts(run.UID)
	d.out = plan.Output{Records: st.Hooks, AbortedBy: st.AbortedBy}
	d.restoreGone = obs.restore == nil && st.RestorePhase != ""
	if obs.restore != nil || d.restoreGone {
		folded := make(map[types.UID]bool, len(st.FoldedPods))
		for _, uid := range st.FoldedPods {
			folded[uid] = true
		}
		capacity := r.dispatch.free()
		if d.restoreGone {
			capacity = 0 // the run is over: record what finishes, start nothing
		}
		var mayCreatePods bool
		mayCreatePods, d.settled = restoreMayCreatePods(obs.restore, now)
		d.out = plan.Decide(plan.Input{
			Spec: &run.Spec, Records: st.Hooks, FoldedPods: folded, AbortedBy: st.AbortedBy,
			RunStart: st.StartTime.Time, Pods: obs.pods, Forbidden: obs.forbidden, InFlight: r.dispatch.inFlight(run.UID),
			Attempts: d.attempts, Now: now, MaxWait: maxWait, Capacity: capacity, RecordOutput: d.recordOutput(),
			RestoreMayCreatePods: mayCreatePods,
			RunName:              run.Namespace + "/" + run.Name,
		})
	}
	st.Hooks, st.AbortedBy = d.out.Records, d.out.AbortedBy
	if d.restoreGone {
		// Hooks not started never will be. Hooks already executing finish and are recorded before the run
		// ends Failed: a terminal run is never looked at again, so a Running record in it would stay so.
		skipUnstarted(st.Hooks, now)
	}
	if obs.restore != nil {
		st.RestorePhase = string(obs.restore.Status.Phase)
	}
	st.PodsInScope = int32(len(obs.pods))
	// Counters come from every record the planner holds; the bound may then leave some out of the status.
	c := countRecords(st.Hooks, omissionOf(st))
	var o omission
	st.Hooks, st.FoldedPods, o = boundRecords(st.Hooks, st.FoldedPods, omissionOf(st), statusBudget)
	setOmission(st, o)

	d.phase = decidePhase(phaseInput{
		prev: run.Status.Phase, restore: obs.restore, everSeen: run.Status.RestorePhase != "",
		created: run.CreationTimestamp.Time, maxWait: maxWait, podsInScope: len(obs.pods),
		// A pod whose annotations are still to be given back keeps the run open (SPEC §9).
		unfinished: int(c.pending) + len(d.out.WriteBacks), failed: int(c.failed + c.skipped - c.notOurs), now: now,
	})
	st.Phase = d.phase.phase
	if st.Phase.IsTerminal() && st.CompletionTime == nil {
		t := metav1.NewTime(now)
		st.CompletionTime = &t
	}
	setCounters(st, c)
	setConditions(st, d.phase, c, run.Generation)
	setVeleroSpecHooks(st, obs.restore, run.Generation)
	st.ObservedGeneration = run.Generation
	return d
}

// record writes the decided status (when it changed) with optimistic concurrency. It reports whether the
// pass may act on the decision; when not, the result and error say when to try again.
func (r *RestoreHookRunReconciler) record(ctx context.Context, obs *observation, d *decision) (ctrl.Result, error, bool) {
	run := obs.run
	if equality.Semantic.DeepEqual(run.Status, d.next.Status) {
		r.dispatch.ack(run.UID, d.attempts)
		r.settleQueue(run.UID, &d.next.Status, d.restoreGone)
		r.phases.set(run.UID, d.next.Status.Phase)
		return ctrl.Result{}, nil, true
	}
	if err := r.Status().Update(ctx, d.next); err != nil {
		if apierrors.IsConflict(err) {
			// Our view was stale (usually: the cache had not caught up with our own last write).
			// Nothing was started; decide again on fresh data.
			r.forgetLatest(run.UID)
			return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil, false
		}
		// The write may have landed all the same (a timeout): a later pass that finds these hooks
		// persisted Running sends them then, rather than calling them Interrupted.
		r.dispatch.holdUnsent(d.next, d.out.Starts, d.recordOutput())
		return ctrl.Result{}, fmt.Errorf("writing status of run %s: %w", client.ObjectKeyFromObject(run), err), false
	}
	r.dispatch.dropUnsent(run.UID)
	r.remember(d.next, obs.now)
	r.dispatch.ack(run.UID, d.attempts)
	r.settleQueue(run.UID, &d.next.Status, d.restoreGone)
	r.phases.set(run.UID, d.next.Status.Phase)
	d.written = true
	return ctrl.Result{}, nil, true
}

// settleQueue acts on the run's queued hooks once its status is persisted: a run that aborted, or whose
// Restore is gone, must not send them (they come back NotSent, and the next pass records them Skipped);
// otherwise a failure that held them back did not abort the run, and they may go.
func (r *RestoreHookRunReconciler) settleQueue(uid types.UID, st *v1alpha1.RestoreHookRunStatus, restoreGone bool) {
	if st.AbortedBy != "" || restoreGone {
		r.dispatch.unqueue(uid)
		return
	}
	r.dispatch.resume(uid)
}

// act carries out a decision: gives taken-over pods their annotations back, and for a persisted one
// starts execs, emits events, counts metrics.
func (r *RestoreHookRunReconciler) act(ctx context.Context, obs *observation, d *decision) {
	r.giveBack(ctx, obs.run, d.out.WriteBacks)
	if !d.written {
		return
	}
	run, next, out, recordOutput := obs.run, d.next, d.out, d.recordOutput()
	var records map[plan.RecordKey]*v1alpha1.HookRecord
	if len(out.Starts) > 0 {
		records = make(map[plan.RecordKey]*v1alpha1.HookRecord, len(next.Status.Hooks))
		for i := range next.Status.Hooks {
			records[plan.KeyOf(&next.Status.Hooks[i])] = &next.Status.Hooks[i]
		}
	}
	for _, s := range out.Starts {
		if rec := records[s.Key]; rec != nil && rec.Attempts == 1 {
			if pod := r.podFor(ctx, s.Namespace, s.Pod); pod != nil {
				waitDuration.Observe(r.Clock.Since(laterOf(pod.CreationTimestamp.Time, next.Status.StartTime.Time)).Seconds())
			}
		}
		r.dispatch.start(next, s, recordOutput)
	}
	if r.Recorder == nil {
		return
	}
	prev := run.Status.Phase
	if (prev == "" || prev == v1alpha1.RunPhasePending) && next.Status.Phase == v1alpha1.RunPhaseRunning {
		r.Recorder.Eventf(next, nil, corev1.EventTypeNormal, "RunStarted", "Start",
			"Following Restore %s", r.restoreKey(next))
		if n := veleroSpecHookCount(obs.restore); n > 0 {
			r.Recorder.Eventf(next, nil, corev1.EventTypeWarning, "VeleroSpecHooks", "Start",
				"Restore %s has %d resource hook specs of its own in spec.hooks: Velero's server runs them, and this run neither runs nor tracks them",
				r.restoreKey(next), n)
		}
	}
	for _, e := range out.EntryEvents {
		reason, typ := "EntryReleased", corev1.EventTypeNormal
		if !e.Released {
			reason, typ = "DependencyFailed", corev1.EventTypeWarning
		}
		r.Recorder.Eventf(next, nil, typ, reason, "OrderHooks", "%s", plan.Truncate(e.Message, plan.MaxMessage))
	}
	for _, t := range out.Transitions {
		rec := t.Record
		hooksTotal.WithLabelValues(string(rec.Type), string(rec.Source), string(rec.Phase)).Inc()
		ns, name, _ := strings.Cut(rec.Pod, "/")
		switch rec.Phase {
		case v1alpha1.HookPhaseSucceeded:
			if !r.successEvents.TryAccept() {
				r.mu.Lock()
				r.suppressed[next.UID]++
				r.mu.Unlock()
				continue
			}
			if pod := r.podFor(ctx, ns, name); pod != nil {
				r.Recorder.Eventf(pod, next, corev1.EventTypeNormal, "RestoreHookSucceeded", "RunHook",
					"%s hook %s succeeded in container %s", rec.Type, rec.Hook, rec.Container)
			}
		case v1alpha1.HookPhaseFailed:
			pod := r.podFor(ctx, ns, name)
			note := plan.Truncate(fmt.Sprintf("%s hook %s in %s container %s failed (%s): %s",
				rec.Type, rec.Hook, rec.Pod, rec.Container, rec.Reason, rec.Message), plan.MaxMessage)
			// A nil *Pod in the related interface would not be a nil interface: the recorder would
			// dereference it. Without the pod (gone, or unreadable), the event has no related object.
			var related runtime.Object
			if pod != nil {
				related = pod
			}
			r.Recorder.Eventf(next, related, corev1.EventTypeWarning, "HookFailed", "RunHook", "%s", note)
			if pod != nil {
				r.Recorder.Eventf(pod, next, corev1.EventTypeWarning, "RestoreHookFailed", "RunHook", "%s", note)
			}
		}
	}
	if !prev.IsTerminal() && next.Status.Phase.IsTerminal() {
		reason, typ := "RunCompleted", corev1.EventTypeNormal
		switch next.Status.Phase {
		case v1alpha1.RunPhasePartiallyFailed:
			reason, typ = "RunPartiallyFailed", corev1.EventTypeWarning
		case v1alpha1.RunPhaseFailed:
			reason, typ = "RunFailed", corev1.EventTypeWarning
		}
		msg := d.phase.message
		if msg == "" {
			msg = fmt.Sprintf("%s hooks succeeded, %d failed, %d skipped", next.Status.Summary,
				next.Status.HooksFailed, next.Status.HooksSkipped)
		}
		r.mu.Lock()
		if n := r.suppressed[next.UID]; n > 0 {
			msg += fmt.Sprintf("; %d RestoreHookSucceeded events on pods were not emitted (rate limit)", n)
		}
		delete(r.suppressed, next.UID)
		r.mu.Unlock()
		r.Recorder.Eventf(next, nil, typ, reason, "Complete", "%s", plan.Truncate(msg, plan.MaxMessage))
	}
}

// giveBack writes Velero's annotations back on pods this run took over whose exec hooks have all ended,
// and marks them hooks-done for this run (SPEC §9): one optimistic-concurrency patch per pod, retried on
// conflict. A pod that fails keeps the run open; a later pass tries again.
func (r *RestoreHookRunReconciler) giveBack(ctx context.Context, run *v1alpha1.RestoreHookRun, pods []types.NamespacedName) {
	runName := run.Namespace + "/" + run.Name
	for _, key := range pods {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			pod := &corev1.Pod{}
			if err := r.Get(ctx, key, pod); err != nil {
				return client.IgnoreNotFound(err)
			}
			if pod.Annotations[hook.PostHookRunAnnotation] != runName {
				return nil // given back already, or not ours
			}
			base := pod.DeepCopy()
			anns, _, err := hook.GiveBack(pod.Annotations)
			if err != nil {
				// The mark does not decode (its hook failed InvalidAnnotation): drop it, keep the rest.
				anns = maps.Clone(pod.Annotations)
				delete(anns, hook.PostHookAnnotation)
				delete(anns, hook.PostHookRunAnnotation)
			}
			anns[hook.HooksDoneAnnotation] = runName
			pod.Annotations = anns
			return r.Patch(ctx, pod, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		})
		if err != nil {
			logf.FromContext(ctx).Error(err, "Writing Velero's hook annotations back", "pod", key)
		}
	}
}

// podFor returns the cached pod, for reading only (an event's subject, its creation time).
func (r *RestoreHookRunReconciler) podFor(ctx context.Context, namespace, name string) *corev1.Pod {
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, pod, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	return pod
}

// freshest returns the newer of the cached run and the one this process last wrote: right after a
// status write the cache may lag behind it, and deciding from the older copy would only lose a conflict.
func (r *RestoreHookRunReconciler) freshest(cached *v1alpha1.RestoreHookRun) *v1alpha1.RestoreHookRun {
	r.mu.Lock()
	mine := r.latest[cached.UID]
	r.mu.Unlock()
	if mine == nil || mine.Generation != cached.Generation {
		return cached
	}
	a, errA := strconv.ParseUint(cached.ResourceVersion, 10, 64)
	b, errB := strconv.ParseUint(mine.ResourceVersion, 10, 64)
	if errA == nil && errB == nil && b > a {
		return mine // read-only, as the cached run
	}
	return cached
}

func (r *RestoreHookRunReconciler) remember(run *v1alpha1.RestoreHookRun, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastWrite[run.UID] = at
	r.latest[run.UID] = run // never changed after its write
	if run.Status.Phase.IsTerminal() {
		delete(r.latest, run.UID)
	}
}

// forgetName notes that name is now the run uid ("": no run), and forgets the run it named before, if
// it was another: its execs are cancelled and its state and gauge entry dropped.
func (r *RestoreHookRunReconciler) forgetName(name types.NamespacedName, uid types.UID) {
	r.mu.Lock()
	old, known := r.uids[name]
	if uid == "" {
		delete(r.uids, name)
	} else {
		r.uids[name] = uid
	}
	r.mu.Unlock()
	if known && old != uid {
		r.forgetRun(old)
	}
}

// forgetRun drops everything this process holds for a run that is gone.
func (r *RestoreHookRunReconciler) forgetRun(uid types.UID) {
	r.dispatch.forget(uid)
	r.mu.Lock()
	delete(r.lastWrite, uid)
	delete(r.latest, uid)
	delete(r.suppressed, uid)
	r.mu.Unlock()
	r.phases.set(uid, "")
}

func (r *RestoreHookRunReconciler) forgetLatest(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.latest, uid)
}

// skipUnstarted ends the hooks that never started when the run itself failed (its Restore was deleted).
func skipUnstarted(records []v1alpha1.HookRecord, now time.Time) {
	t := metav1.NewTime(now)
	for i := range records {
		r := &records[i]
		if r.Phase.IsFinished() || r.Phase == v1alpha1.HookPhaseRunning {
			continue
		}
		r.Phase, r.Reason, r.CompletionTime = v1alpha1.HookPhaseSkipped, v1alpha1.ReasonRestoreDeleted, &t
		r.Message = "not started: the Restore was deleted"
		r.NextAttemptTime = nil
	}
}

func findRecord(records []v1alpha1.HookRecord, key plan.RecordKey) *v1alpha1.HookRecord {
	for i := range records {
		if plan.KeyOf(&records[i]) == key {
			return &records[i]
		}
	}
	return nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// requeueAfter returns the delay to the earliest scheduled check, with a floor so a deadline just
// passed is handled promptly, and a ceiling so a run is looked at at least every few minutes.
func requeueAfter(now time.Time, checks ...time.Time) time.Duration {
	const ceiling = 5 * time.Minute
	d := ceiling
	for _, t := range checks {
		if t.IsZero() {
			continue
		}
		d = min(d, max(t.Sub(now), 10*time.Millisecond))
	}
	return d
}

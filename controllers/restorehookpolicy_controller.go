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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/plan"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// PolicyOptions configure the RestoreHookPolicy reconciler.
type PolicyOptions struct {
	// VeleroNamespace is where the Restores a policy matches live.
	VeleroNamespace string
	// AdminNamespaces may hold policies whose templates reach pods in any namespace.
	AdminNamespaces []string
	// SkipNameValidation lets one process start the controller more than once (tests that restart it).
	SkipNameValidation bool
}

// RestoreHookPolicyReconciler gives every Restore a policy matches exactly one RestoreHookRun (SPEC §10).
//
// One pass observes, decides, records and acts, as the run reconciler does:
//
//  1. Observe: the policy, the Restores of the Velero namespace and the runs of the policy's namespace,
//     from the shared cache.
//  2. Decide: policy.Decide, a pure function, says which Restores get a run now (recorded as pending,
//     under a name fixed then), which pending runs now exist, which finished runs go; nextPolicyStatus
//     turns that into the status.
//  3. Record: one optimistic-concurrency status write. A pass decided from a stale cache (its own last
//     write not seen yet) loses the conflict instead of creating anything.
//  4. Act: create the pending runs and delete the pruned ones, with events.
//
// Exactly once: a run is recorded pending before it is created, under a deterministic name, so a crash
// in between makes the next pass create that same name; creating a name that exists already and is this
// policy's run for that Restore counts as success. A pending run seen created moves to handledRestores,
// which outlives the run, so a run deleted by the history limit or by hand is never made again.
type RestoreHookPolicyReconciler struct {
	client.Client
	// APIReader reads from the API server, not the cache: to tell, after AlreadyExists, whose run holds
	// a name.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Options   PolicyOptions

	scope scope.Scope

	mu sync.Mutex
	// createErr is, per policy, the last run creation failure, shown in Ready until a creation succeeds.
	createErr map[types.UID]string
}

// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookpolicies/status,verbs=update;patch
// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookpolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=hooks.restorehooks.io,resources=restorehookruns,verbs=create;delete

// SetupWithManager registers the reconciler and its watches.
func (r *RestoreHookPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Options.VeleroNamespace == "" {
		r.Options.VeleroNamespace = "velero"
	}
	r.scope = scope.New(r.Options.AdminNamespaces...)
	if len(r.Options.AdminNamespaces) == 0 {
		r.scope.AdminNamespaces.Insert(r.Options.VeleroNamespace)
	}
	r.createErr = map[types.UID]string{}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.RestoreHookPolicy{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletedOrCreated()))).
		Owns(&v1alpha1.RestoreHookRun{}, builder.WithPredicates(runPhaseChanged())).
		Watches(&velerov1.Restore{}, handler.EnqueueRequestsFromMapFunc(r.allPolicies),
			builder.WithPredicates(r.restoreIdentityChanged())).
		WithOptions(controller.Options{SkipNameValidation: &r.Options.SkipNameValidation, RateLimiter: runRateLimiter()}).
		Named("restorehookpolicy").
		Complete(r)
}

// runPhaseChanged lets through what a policy cares about in its runs: their creation, deletion and
// phase (lastRun and the history limit), not every hook record written.
func runPhaseChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okO := e.ObjectOld.(*v1alpha1.RestoreHookRun)
			n, okN := e.ObjectNew.(*v1alpha1.RestoreHookRun)
			return !okO || !okN || o.Status.Phase != n.Status.Phase || o.DeletionTimestamp != n.DeletionTimestamp
		},
	}
}

// restoreIdentityChanged lets through Restores of the Velero namespace appearing, going, or changing
// what a selector looks at (labels, spec); Velero's frequent progress updates are left out.
func (r *RestoreHookPolicyReconciler) restoreIdentityChanged() predicate.Predicate {
	inNS := func(o interface{ GetNamespace() string }) bool { return o.GetNamespace() == r.Options.VeleroNamespace }
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return inNS(e.Object) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return inNS(e.Object) },
		GenericFunc: func(e event.GenericEvent) bool { return inNS(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okO := e.ObjectOld.(*velerov1.Restore)
			n, okN := e.ObjectNew.(*velerov1.Restore)
			if !okO || !okN || !inNS(n) {
				return false
			}
			return !equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Spec, n.Spec) ||
				o.DeletionTimestamp != n.DeletionTimestamp
		},
	}
}

// allPolicies maps a Restore event to every policy: there are few, and any may match.
func (r *RestoreHookPolicyReconciler) allPolicies(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1alpha1.RestoreHookPolicyList
	if err := r.List(ctx, &list); err != nil {
		logf.FromContext(ctx).Error(err, "Listing policies for a Restore event")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// policyObservation is what one pass knows, read from the cache.
type policyObservation struct {
	policy   *v1alpha1.RestoreHookPolicy
	restores []*velerov1.Restore
	runs     []*v1alpha1.RestoreHookRun
}

// policyDecision is what one pass decided.
type policyDecision struct {
	out  policy.Output
	next *v1alpha1.RestoreHookPolicy
}

// Reconcile runs one pass over a policy.
func (r *RestoreHookPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &v1alpha1.RestoreHookPolicy{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("getting policy %s: %w", req.NamespacedName, err)
	}
	if p.DeletionTimestamp != nil {
		// Its runs go with it (owner references); nothing new is made for a policy on its way out.
		r.forget(p.UID)
		return ctrl.Result{}, nil
	}
	obs, err := r.observe(ctx, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := r.decide(obs)
	if res, err, written := r.record(ctx, obs, d); !written {
		return res, err
	}
	return ctrl.Result{}, r.act(ctx, d)
}

// observe reads the Restores of the Velero namespace and the runs of the policy's namespace.
func (r *RestoreHookPolicyReconciler) observe(ctx context.Context, p *v1alpha1.RestoreHookPolicy) (*policyObservation, error) {
	obs := &policyObservation{policy: p}
	var restores velerov1.RestoreList
	if err := r.List(ctx, &restores, client.InNamespace(r.Options.VeleroNamespace)); err != nil {
		return nil, fmt.Errorf("listing Restores in %s: %w", r.Options.VeleroNamespace, err)
	}
	for i := range restores.Items {
		obs.restores = append(obs.restores, &restores.Items[i])
	}
	var runs v1alpha1.RestoreHookRunList
	if err := r.List(ctx, &runs, client.InNamespace(p.Namespace)); err != nil {
		return nil, fmt.Errorf("listing runs in %s: %w", p.Namespace, err)
	}
	for i := range runs.Items {
		obs.runs = append(obs.runs, &runs.Items[i])
	}
	return obs, nil
}

// decide computes the pass's outcome and the policy's next status. It writes nothing.
func (r *RestoreHookPolicyReconciler) decide(obs *policyObservation) *policyDecision {
	out := policy.Decide(policy.Input{Policy: obs.policy, VeleroNamespace: r.Options.VeleroNamespace, Scope: r.scope,
		Restores: obs.restores, Runs: obs.runs})
	next := obs.policy.DeepCopy()
	if len(out.Create) == 0 {
		// Nothing left to create (created, dropped, suspended): an old failure no longer applies.
		r.setCreateErr(obs.policy.UID, "")
	}
	r.mu.Lock()
	createErr := r.createErr[obs.policy.UID]
	r.mu.Unlock()
	next.Status = nextPolicyStatus(policyStatusInput{policy: obs.policy, out: out,
		veleroNamespace: r.Options.VeleroNamespace, createErr: createErr})
	return &policyDecision{out: out, next: next}
}

// record writes the decided status when it changed, with optimistic concurrency. It reports whether the
// pass may act; a conflict (the cache had not caught up) means decide again on fresh data.
func (r *RestoreHookPolicyReconciler) record(ctx context.Context, obs *policyObservation, d *policyDecision) (ctrl.Result, error, bool) {
	if equality.Semantic.DeepEqual(obs.policy.Status, d.next.Status) {
		return ctrl.Result{}, nil, true
	}
	if err := r.Status().Update(ctx, d.next); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil, false
		}
		// Nothing was created: the runs stay pending (or undecided) until a write lands.
		return ctrl.Result{}, fmt.Errorf("writing status of policy %s: %w", klog.KObj(obs.policy), err), false
	}
	return ctrl.Result{}, nil, true
}

// act creates the recorded pending runs and deletes the pruned ones.
func (r *RestoreHookPolicyReconciler) act(ctx context.Context, d *policyDecision) error {
	p := d.next
	var errs []error
	for _, pr := range d.out.Create {
		created, err := r.createRun(ctx, p, pr)
		if err != nil {
			msg := plan.Truncate(fmt.Sprintf("Creating run %s for Restore %s/%s: %v", pr.Name, r.Options.VeleroNamespace,
				pr.Restore, err), plan.MaxMessage)
			r.setCreateErr(p.UID, msg)
			r.event(p, nil, corev1.EventTypeWarning, "RunCreationFailed", "%s", msg)
			errs = append(errs, errors.New(msg))
			continue
		}
		if created != nil {
			r.event(p, created, corev1.EventTypeNormal, "RunCreated", "Created run %s for Restore %s/%s",
				pr.Name, r.Options.VeleroNamespace, pr.Restore)
		}
	}
	if len(errs) == 0 && len(d.out.Create) > 0 {
		r.setCreateErr(p.UID, "")
	}
	limit := int32(v1alpha1.DefaultRunsHistoryLimit)
	if p.Spec.RunsHistoryLimit != nil {
		limit = *p.Spec.RunsHistoryLimit
	}
	for _, run := range d.out.Prune {
		err := r.Delete(ctx, run, client.Preconditions{UID: &run.UID}, client.PropagationPolicy("Background"))
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting finished run %s: %w", klog.KObj(run), err))
			continue
		}
		r.event(p, run, corev1.EventTypeNormal, "RunPruned", "Deleted finished run %s (%s) to keep runsHistoryLimit %d",
			run.Name, run.Status.Phase, limit)
	}
	return errors.Join(errs...)
}

// createRun creates a pending run. It returns the run when it created it, nil when the run existed
// already (a pass that crashed after creating it, or a cache that had not seen it), and an error when
// the name is held by another run or the API refused.
func (r *RestoreHookPolicyReconciler) createRun(ctx context.Context, p *v1alpha1.RestoreHookPolicy, pr v1alpha1.PendingRun) (*v1alpha1.RestoreHookRun, error) {
	run := policy.NewRun(p, pr, r.Options.VeleroNamespace)
	err := r.Create(ctx, run)
	if err == nil {
		return run, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	existing := &v1alpha1.RestoreHookRun{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(run), existing); err != nil {
		return nil, fmt.Errorf("reading run %s, which exists already: %w", run.Name, err)
	}
	if policy.OwnedBy(existing, p) && types.UID(existing.Labels[v1alpha1.RestoreUIDLabel]) == pr.RestoreUID {
		return nil, nil
	}
	return nil, fmt.Errorf("the name is held by a run that is not this policy's run for this Restore; the next pass uses another name")
}

func (r *RestoreHookPolicyReconciler) setCreateErr(uid types.UID, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg == "" {
		delete(r.createErr, uid)
		return
	}
	r.createErr[uid] = msg
}

func (r *RestoreHookPolicyReconciler) forget(uid types.UID) { r.setCreateErr(uid, "") }

func (r *RestoreHookPolicyReconciler) event(p *v1alpha1.RestoreHookPolicy, related runtime.Object, typ, reason, format string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(p, related, typ, reason, "Reconcile", format, args...)
}

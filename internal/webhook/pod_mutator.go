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

package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// PodMutatorPath is where the pod mutator is served.
const PodMutatorPath = "/mutate--v1-pod"

// +kubebuilder:webhook:path=/mutate--v1-pod,mutating=true,failurePolicy=ignore,sideEffects=None,groups="",resources=pods,verbs=create,versions=v1,name=mpod.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=5,reinvocationPolicy=IfNeeded

// PodMutator handles the CREATE of every pod labelled velero.io/restore-name (SPEC §6, §9):
//
//   - it drops what a pod can only carry as a stale copy from a backup (restorehooks.io/hooks-done, and a
//     takeover mark, whose Velero annotations it puts back first);
//   - it takes the pod's annotation exec hook over from Velero's server (moves Velero's
//     post.hook.restore.velero.io/* annotations into restorehooks.io/post-hook, naming the run in
//     restorehooks.io/post-hook-run) when a run honouring annotations covers the pod, unless the Restore's
//     own spec.hooks select the pod;
//   - it injects the init-container hooks of every run that names the pod's Restore and may touch its
//     namespace, except containers that would violate the Pod Security Standard the namespace enforces
//     (recorded in restorehooks.io/refused-init-containers).
//
// It is registered with failurePolicy Ignore and an objectSelector on that label, and it never denies a
// pod: on any internal error it admits the pod unchanged, with an admission warning and a log line, and
// the reconciler records what the pod lacks (NotInjected init hooks; an exec hook left to Velero).
// failurePolicy covers only a webhook that cannot be called; an answer of allowed=false would be a
// rejection whatever the policy, and Velero would lose the pod from the restore.
type PodMutator struct {
	// Reader lists RestoreHookRuns and reads Restores and Namespaces (the manager's cache).
	Reader  client.Reader
	Decoder admission.Decoder
	Scope   scope.Scope
	// RunIndex is the cache's field index of RestoreHookRuns by the restore label of their Restore's pods
	// (controllers.RunRestoreLabelIndex). Listing through it keeps one admission's cost independent of
	// how many runs, finished or not, the cluster holds.
	RunIndex string
	// VeleroNamespace is where a run's Restore lives when its restoreRef has no namespace.
	VeleroNamespace string
}

// Handle implements admission.Handler.
func (m *PodMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	log := logf.FromContext(ctx).WithValues("pod", klog.KRef(req.Namespace, req.Name))
	pod := &corev1.Pod{}
	if err := m.Decoder.Decode(req, pod); err != nil {
		return admitUnchanged(log, "decoding the pod", err)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	if pod.Name != "" {
		log = logf.FromContext(ctx).WithValues("pod", klog.KObj(pod))
	}
	restoreLabel := pod.Labels[velerov1.RestoreNameLabel]
	if restoreLabel == "" {
		return admission.Allowed("not a restored pod")
	}
	runs, err := m.runsOf(ctx, restoreLabel)
	if err != nil {
		return admitUnchanged(log, "listing the RestoreHookRuns of restore "+restoreLabel, err)
	}

	mutated := pod.DeepCopy()
	if err := m.takeOver(ctx, log, mutated, runs); err != nil {
		return admitUnchanged(log, "deciding the exec hook takeover", err)
	}
	injected, err := m.injectInitHooks(ctx, log, mutated, runs)
	if err != nil {
		return admitUnchanged(log, "injecting init hooks", err)
	}
	if equality.Semantic.DeepEqual(pod.Annotations, mutated.Annotations) &&
		equality.Semantic.DeepEqual(pod.Spec.InitContainers, mutated.Spec.InitContainers) {
		return admission.Allowed("no restore hook applies")
	}
	raw, err := json.Marshal(mutated)
	if err != nil {
		return admitUnchanged(log, "encoding the mutated pod", err)
	}
	log.V(1).Info("Applying restore hooks", "initContainers", injected,
		"takenOverBy", mutated.Annotations[hook.PostHookRunAnnotation])
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

// takeOver cleans stale marks off the pod and, when a run covers its annotation exec hook, moves
// Velero's exec hook annotations into ours (SPEC §9).
func (m *PodMutator) takeOver(ctx context.Context, log logr.Logger, pod *corev1.Pod, runs []*v1alpha1.RestoreHookRun) error {
	annotations := pod.Annotations
	if _, ok := annotations[hook.HooksDoneAnnotation]; ok {
		annotations = maps.Clone(annotations)
		delete(annotations, hook.HooksDoneAnnotation)
	}
	// A takeover mark on a pod being created came with it from a backup taken before the write-back.
	// Put Velero's keys back first, so the decision below is made afresh for this restore. A mark that
	// does not decode stays as it is: the reconciler fails that hook naming it.
	if given, changed, err := hook.GiveBack(annotations); err == nil && changed {
		annotations = given
	}
	pod.Annotations = annotations
	if !hook.HasVeleroExecHook(annotations) {
		return nil
	}
	covering := coveringRuns(pod, runs, m.Scope.MayTouch)
	if len(covering) == 0 {
		// No run yet: a RestoreHookPolicy may be about to create one for this Restore (SPEC §9, §10).
		run, err := m.policyRunFor(ctx, log, pod)
		if err != nil || run == "" {
			return err
		}
		m.takeOverIfItFits(log, pod, annotations, run)
		return nil
	}
	restores := map[types.NamespacedName]*velerov1.Restore{}
	for _, run := range covering {
		key := m.restoreOf(run)
		if _, seen := restores[key]; seen {
			continue
		}
		var r velerov1.Restore
		switch err := m.Reader.Get(ctx, key, &r); {
		case apierrors.IsNotFound(err):
			restores[key] = nil
		case err != nil:
			return fmt.Errorf("reading Restore %s: %w", key, err)
		default:
			restores[key] = &r
		}
	}
	d := decideTakeover(pod, covering, restores, m.restoreOf, m.Scope.MayTouch)
	if d.run == nil {
		log.V(1).Info("Leaving the annotation exec hook to Velero", "reason", d.why)
		return nil
	}
	m.takeOverIfItFits(log, pod, annotations, d.run.Namespace+"/"+d.run.Name)
	return nil
}

// takeOverIfItFits moves the pod's exec hook annotations into ours for run, unless the result would break
// the API server's limit on a pod's annotations (256 KiB in all): JSON escaping can grow a value Velero
// accepts past it, and the pod would then be refused. Such a hook is left to Velero, as if no run had
// covered the pod; the run records it RunByVelero.
func (m *PodMutator) takeOverIfItFits(log logr.Logger, pod *corev1.Pod, annotations map[string]string, run string) {
	taken, _ := hook.TakeOver(annotations, run)
	if errs := apimachineryvalidation.ValidateAnnotationsSize(taken); errs != nil {
		log.Info("Leaving the annotation exec hook to Velero: taken over, the pod's annotations would exceed the API server's limit",
			"run", run, "error", errs.Error())
		return
	}
	pod.Annotations = taken
}

// policyRunFor returns the namespace/name of the run a RestoreHookPolicy will create for the pod's
// Restore and that will run its annotation exec hook, or "" when no policy will: the oldest policy that
// gives the Restore a run (selector, globs, not suspended, Restore created after it), honours pod
// annotations and may touch the pod's namespace, provided no Restore.spec.hooks entry selects the pod.
func (m *PodMutator) policyRunFor(ctx context.Context, log logr.Logger, pod *corev1.Pod) (string, error) {
	if m.VeleroNamespace == "" {
		return "", nil
	}
	restore, err := m.restoreOfPod(ctx, pod)
	if err != nil || restore == nil {
		return "", err
	}
	var policies v1alpha1.RestoreHookPolicyList
	if err := m.Reader.List(ctx, &policies, client.UnsafeDisableDeepCopy); err != nil {
		return "", fmt.Errorf("listing RestoreHookPolicies: %w", err)
	}
	var chosen *v1alpha1.RestoreHookPolicy
	for i := range policies.Items {
		p := &policies.Items[i]
		if !policy.GivesRun(p, restore, m.VeleroNamespace) || !policy.HonorsAnnotations(p) || !m.Scope.MayTouch(p.Namespace, pod.Namespace) {
			continue
		}
		if chosen == nil || p.CreationTimestamp.Before(&chosen.CreationTimestamp) ||
			(p.CreationTimestamp.Equal(&chosen.CreationTimestamp) && p.Namespace+"/"+p.Name < chosen.Namespace+"/"+chosen.Name) {
			chosen = p
		}
	}
	if chosen == nil {
		return "", nil
	}
	if hook.SpecHooksSelect(pod, restore.Spec.Hooks) {
		log.V(1).Info("Leaving the annotation exec hook to Velero: an exec hook of the Restore's spec.hooks selects the pod",
			"restore", klog.KObj(restore))
		return "", nil
	}
	return chosen.Namespace + "/" + policy.RunName(restore.Name, chosen.Name), nil
}

// restoreOfPod finds the Restore whose restore-name label the pod carries in the Velero namespace (the
// label holds the name, or for a name over 63 characters Velero's hashed form of it); nil if none.
func (m *PodMutator) restoreOfPod(ctx context.Context, pod *corev1.Pod) (*velerov1.Restore, error) {
	want := pod.Labels[velerov1.RestoreNameLabel]
	var r velerov1.Restore
	switch err := m.Reader.Get(ctx, types.NamespacedName{Namespace: m.VeleroNamespace, Name: want}, &r); {
	case err == nil:
		return &r, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Restore %s/%s: %w", m.VeleroNamespace, want, err)
	}
	var list velerov1.RestoreList
	if err := m.Reader.List(ctx, &list, client.InNamespace(m.VeleroNamespace)); err != nil {
		return nil, fmt.Errorf("listing Restores in %s: %w", m.VeleroNamespace, err)
	}
	for i := range list.Items {
		if label.GetValidName(list.Items[i].Name) == want {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

func (m *PodMutator) restoreOf(run *v1alpha1.RestoreHookRun) types.NamespacedName {
	ns := run.Spec.RestoreRef.Namespace
	if ns == "" {
		ns = m.VeleroNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: run.Spec.RestoreRef.Name}
}

// injectInitHooks injects the init hooks of the runs that apply to the pod and records, on the pod,
// what it injected and what it refused.
func (m *PodMutator) injectInitHooks(ctx context.Context, log logr.Logger, pod *corev1.Pod, runs []*v1alpha1.RestoreHookRun) ([]string, error) {
	var injected []string
	refused := map[string]string{}
	var enforced *psapi.LevelVersion
	for _, run := range runs {
		if label.GetValidName(run.Spec.RestoreRef.Name) != pod.Labels[velerov1.RestoreNameLabel] || run.Status.Phase.IsTerminal() ||
			run.DeletionTimestamp != nil || !m.Scope.MayTouch(run.Namespace, pod.Namespace) {
			continue
		}
		hooks := hook.ResolveInitHooks(pod, &run.Spec, hook.ResolveMaxWait(&run.Spec))
		_, wouldInject := hook.InjectInitContainers(pod.Spec.InitContainers, hooks)
		if len(wouldInject) > 0 && enforced == nil {
			var ns corev1.Namespace
			if err := m.Reader.Get(ctx, client.ObjectKey{Name: pod.Namespace}, &ns); err != nil {
				return nil, fmt.Errorf("reading namespace %s for its Pod Security level: %w", pod.Namespace, err)
			}
			lv := hook.EnforcedPodSecurity(ns.Labels)
			enforced = &lv
		}
		for i := range hooks {
			h := &hooks[i]
			if h.Problem != nil || !slices.Contains(wouldInject, h.Container.Name) {
				continue
			}
			violations := hook.CheckPodSecurity(*enforced, &h.Container, initHookPath(run, h))
			if len(violations) == 0 {
				continue
			}
			msg := podSecurityMessage(*enforced, pod.Namespace, violations)
			h.Problem = &hook.Problem{Reason: v1alpha1.ReasonNotInjected, Message: msg}
			refused[h.Container.Name] = msg
			log.Info("Not injecting an init hook that violates the namespace's Pod Security Standard",
				"run", klog.KObj(run), "container", h.Container.Name, "violations", msg)
		}
		var names []string
		pod.Spec.InitContainers, names = hook.InjectInitContainers(pod.Spec.InitContainers, hooks)
		injected = append(injected, names...)
	}
	if len(injected) > 0 {
		if prev, err := hook.DecodeInjected(pod.Annotations[hook.InjectedAnnotation]); err == nil {
			injected = append(prev, injected...)
		}
		setAnnotation(pod, hook.InjectedAnnotation, hook.EncodeInjected(injected))
	}
	if len(refused) > 0 {
		if prev, err := hook.DecodeRefused(pod.Annotations[hook.RefusedInitAnnotation]); err == nil {
			for k, v := range prev {
				if _, ok := refused[k]; !ok {
					refused[k] = v
				}
			}
		}
		setAnnotation(pod, hook.RefusedInitAnnotation, hook.EncodeRefused(refused))
	}
	return injected, nil
}

func setAnnotation(pod *corev1.Pod, key, value string) {
	pod.Annotations = maps.Clone(pod.Annotations)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = value
}

// initHookPath names where an init hook's container is declared, for messages.
func initHookPath(run *v1alpha1.RestoreHookRun, h *hook.InitHook) *field.Path {
	if h.Source == v1alpha1.HookSourceAnnotation {
		return field.NewPath("metadata", "annotations").Key(hook.InitContainerImageAnnotation)
	}
	return field.NewPath(fmt.Sprintf("RestoreHookRun %s/%s spec", run.Namespace, run.Name)).Child("hooks", "resources").
		Index(int(h.ResourceIndex)).Child("postHooks").Index(int(h.Index)).Child("init", "initContainers").Key(h.Container.Name)
}

func podSecurityMessage(lv psapi.LevelVersion, namespace string, violations []hook.PodSecurityViolation) string {
	parts := make([]string, len(violations))
	for i, v := range violations {
		parts[i] = v.Field + ": " + v.Detail
	}
	return fmt.Sprintf("it would violate PodSecurity %q, which namespace %q enforces (label %s, baseline when unlabelled): %s",
		lv.String(), namespace, psapi.EnforceLevelLabel, strings.Join(parts, "; "))
}

// runsOf lists the runs whose Restore's pods carry restoreLabel, oldest first, through the cache's
// index and without deep copies: every returned run shares memory with the cache and must not be
// modified (ResolveInitHooks copies what it injects).
func (m *PodMutator) runsOf(ctx context.Context, restoreLabel string) ([]*v1alpha1.RestoreHookRun, error) {
	if m.RunIndex == "" {
		return nil, errors.New("the pod webhook was set up without the RestoreHookRun index")
	}
	var list v1alpha1.RestoreHookRunList
	if err := m.Reader.List(ctx, &list, client.MatchingFields{m.RunIndex: restoreLabel}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	runs := make([]*v1alpha1.RestoreHookRun, len(list.Items))
	for i := range list.Items {
		runs[i] = &list.Items[i]
	}
	slices.SortStableFunc(runs, func(a, b *v1alpha1.RestoreHookRun) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return runs, nil
}

// admitUnchanged answers an internal error: the pod is admitted as it came, with a warning (shown to
// whoever created it) and a log line saying what the webhook could not do.
func admitUnchanged(log logr.Logger, doing string, err error) admission.Response {
	log.Error(err, "Admitting the pod unchanged: restore hooks could not be applied to it", "while", doing)
	return admission.Allowed("admitted unchanged after an internal error").WithWarnings(fmt.Sprintf(
		"restore-hook-operator admitted this pod unchanged: %s failed: %v; its init hooks are not injected "+
			"(the RestoreHookRun records them NotInjected) and its annotation exec hook is left to Velero", doing, err))
}

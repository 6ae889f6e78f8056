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
	"slices"
	"strings"

	"github.com/go-logr/logr"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// PodMutatorPath is where the pod mutator is served.
const PodMutatorPath = "/mutate--v1-pod"

// +kubebuilder:webhook:path=/mutate--v1-pod,mutating=true,failurePolicy=ignore,sideEffects=None,groups="",resources=pods,verbs=create,versions=v1,name=mpod.restorehooks.io,admissionReviewVersions=v1,timeoutSeconds=5,reinvocationPolicy=IfNeeded

// PodMutator injects the init-container hooks of every RestoreHookRun that names the Restore a pod was
// restored by (its velero.io/restore-name label) and may touch the pod's namespace. It is registered
// with failurePolicy Ignore and an objectSelector on that label, and it never denies a pod: on any
// internal error it admits the pod unchanged, with an admission warning and a log line, and the
// reconciler records what the pod lacks (NotInjected). failurePolicy covers only a webhook that cannot
// be called; an answer of allowed=false would be a rejection whatever the policy, and Velero would lose
// the pod from the restore.
type PodMutator struct {
	// Reader lists RestoreHookRuns (the manager's cache).
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
	var injected []string
	for _, run := range runs {
		if label.GetValidName(run.Spec.RestoreRef.Name) != restoreLabel || run.Status.Phase.IsTerminal() ||
			run.DeletionTimestamp != nil || !m.Scope.MayTouch(run.Namespace, pod.Namespace) {
			continue
		}
		hooks := hook.ResolveInitHooks(mutated, &run.Spec, hook.ResolveMaxWait(&run.Spec))
		var names []string
		mutated.Spec.InitContainers, names = hook.InjectInitContainers(mutated.Spec.InitContainers, hooks)
		injected = append(injected, names...)
	}
	if len(injected) == 0 {
		return admission.Allowed("no init hooks apply")
	}
	if prev, err := hook.DecodeInjected(pod.Annotations[hook.InjectedAnnotation]); err == nil {
		injected = append(prev, injected...)
	}
	if mutated.Annotations == nil {
		mutated.Annotations = map[string]string{}
	}
	mutated.Annotations[hook.InjectedAnnotation] = hook.EncodeInjected(injected)

	raw, err := json.Marshal(mutated)
	if err != nil {
		return admitUnchanged(log, "encoding the mutated pod", err)
	}
	log.V(1).Info("Injecting init hooks", "containers", injected)
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
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
			"(the RestoreHookRun records them NotInjected)", doing, err))
}

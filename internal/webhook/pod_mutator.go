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
	"fmt"
	"net/http"
	"slices"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
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
// with failurePolicy Ignore and an objectSelector on that label: it never blocks a restore, and a pod it
// could not see is recorded NotInjected by the reconciler.
type PodMutator struct {
	// Reader lists RestoreHookRuns (the manager's cache).
	Reader  client.Reader
	Decoder admission.Decoder
	Scope   scope.Scope
}

// Handle implements admission.Handler.
func (m *PodMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	log := logf.FromContext(ctx)
	pod := &corev1.Pod{}
	if err := m.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding pod: %w", err))
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	restoreLabel := pod.Labels[velerov1.RestoreNameLabel]
	if restoreLabel == "" {
		return admission.Allowed("not a restored pod")
	}
	var runs v1alpha1.RestoreHookRunList
	if err := m.Reader.List(ctx, &runs); err != nil {
		// failurePolicy Ignore would admit the pod anyway; say why it has no hooks.
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("listing RestoreHookRuns: %w", err))
	}
	slices.SortFunc(runs.Items, func(a, b v1alpha1.RestoreHookRun) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})

	mutated := pod.DeepCopy()
	var injected []string
	for i := range runs.Items {
		run := &runs.Items[i]
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
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encoding pod: %w", err))
	}
	log.V(1).Info("Injecting init hooks", "pod", req.Namespace+"/"+pod.Name, "containers", injected)
	return admission.PatchResponseFromRaw(req.Object.Raw, raw)
}

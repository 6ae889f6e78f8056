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
	"fmt"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// The takeover decision (SPEC §9), kept apart from the API calls so tables can pin it. Candidates are
// runs today; a RestoreHookPolicy (SPEC §10) that will give the pod's Restore a run is another kind of
// candidate, to be added to coveringRuns' inputs.

// coveringRuns returns, in the order given, the runs that cover a restored pod for its annotation exec
// hook: they name the Restore whose label the pod carries, exist (not being deleted), are not terminal,
// honour pod annotations, and may touch the pod's namespace.
func coveringRuns(pod *corev1.Pod, runs []*v1alpha1.RestoreHookRun, mayTouch func(runNamespace, namespace string) bool) []*v1alpha1.RestoreHookRun {
	restoreLabel := pod.Labels[velerov1.RestoreNameLabel]
	var out []*v1alpha1.RestoreHookRun
	for _, run := range runs {
		if restoreLabel == "" || label.GetValidName(run.Spec.RestoreRef.Name) != restoreLabel ||
			run.DeletionTimestamp != nil || run.Status.Phase.IsTerminal() ||
			run.Spec.PodAnnotations == v1alpha1.PodAnnotationsIgnore || !mayTouch(run.Namespace, pod.Namespace) {
			continue
		}
		out = append(out, run)
	}
	return out
}

// takeover is what the webhook does with a pod's annotation exec hook.
type takeover struct {
	// run takes the hook over; nil leaves it to Velero.
	run *v1alpha1.RestoreHookRun
	// why says, when run is nil, why the hook is left to Velero.
	why string
}

// decideTakeover decides whether a run takes a pod's annotation exec hook over from Velero, and which:
// the oldest covering run (runs come oldest first), provided the pod declares a hook Velero would run
// and no Restore.spec.hooks entry of a covering run's Restore selects it. restores holds those Restores
// by the key restoreOf gives; a missing one leaves the hook to Velero, since nobody can tell whether its
// spec hooks select the pod.
func decideTakeover(pod *corev1.Pod, runs []*v1alpha1.RestoreHookRun, restores map[types.NamespacedName]*velerov1.Restore,
	restoreOf func(*v1alpha1.RestoreHookRun) types.NamespacedName, mayTouch func(runNamespace, namespace string) bool) takeover {
	if !hook.HasVeleroExecHook(pod.Annotations) {
		return takeover{why: "the pod declares no annotation exec hook"}
	}
	covering := coveringRuns(pod, runs, mayTouch)
	if len(covering) == 0 {
		return takeover{why: "no active RestoreHookRun honouring pod annotations covers the pod"}
	}
	for _, run := range covering {
		key := restoreOf(run)
		r := restores[key]
		if r == nil {
			return takeover{why: fmt.Sprintf("Restore %s of RestoreHookRun %s/%s is not found, so whether its spec.hooks select the pod is unknown",
				key, run.Namespace, run.Name)}
		}
		if hook.SpecHooksSelect(pod, r.Spec.Hooks) {
			return takeover{why: fmt.Sprintf("an exec hook of Restore %s's spec.hooks selects the pod: Velero runs those only for "+
				"a pod without an annotation exec hook, so the annotation hook stays Velero's", key)}
		}
	}
	return takeover{run: covering[0]}
}

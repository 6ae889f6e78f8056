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

package plan

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// annotationOwner says whose a pod's annotation exec hook is (SPEC §9): "" when this run runs it; else
// the reason and message of a Skipped record. The pod webhook's mark names the run that took the hook
// over from Velero; without a mark, the write-back's hooks-done names the run that already ran it; with
// neither, Velero's own keys mean Velero's server runs it.
func (d *decider) annotationOwner(pod *corev1.Pod) (v1alpha1.HookReason, string) {
	ann := pod.Annotations
	if by, marked := ann[hook.PostHookRunAnnotation]; marked || ann[hook.PostHookAnnotation] != "" {
		if by == d.in.RunName {
			return "", ""
		}
		return v1alpha1.ReasonAlreadyRun, fmt.Sprintf(
			"the pod webhook gave this annotation hook to run %s, which runs it; it is not run here", by)
	}
	if done := ann[hook.HooksDoneAnnotation]; done != "" {
		if done == d.in.RunName {
			return "", ""
		}
		return v1alpha1.ReasonAlreadyRun, fmt.Sprintf("run %s already ran this annotation hook; it is not run again", done)
	}
	if hook.HasVeleroExecHook(ann) {
		return v1alpha1.ReasonRunByVelero, "Velero's server runs this annotation hook: the pod was created with " +
			hook.ExecCommandAnnotation + " and not taken over (no run covered the pod when it was created, the pod " +
			"webhook was unreachable, or a Restore.spec.hooks entry selects the pod); it is not run here"
	}
	return "", ""
}

// writeBacks lists the pods this run took over whose exec hooks have all ended.
func (d *decider) writeBacks() []types.NamespacedName {
	var out []types.NamespacedName
	for _, uid := range d.order {
		ps := d.pods[uid]
		if d.in.RunName == "" || ps.pod.Annotations[hook.PostHookRunAnnotation] != d.in.RunName {
			continue
		}
		done := true
		for i := range d.records {
			r := &d.records[i]
			if r.PodUID == uid && r.Type == v1alpha1.HookTypeExec && !r.Phase.IsFinished() {
				done = false
				break
			}
		}
		if done {
			out = append(out, types.NamespacedName{Namespace: ps.pod.Namespace, Name: ps.pod.Name})
		}
	}
	return out
}

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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// Init-container hooks are run by the kubelet, not by the operator: the planner only watches them. Their
// records follow the injected container's status: Succeeded on exit 0; Failed NonZeroExit once the pod
// will not retry it (restartPolicy Never, or the pod Failed), with the restart count in attempts;
// InitTimeout when the hook's timeout (or maxWait) passes first; NotInjected when the pod was created
// without it.

// resolveInit creates records for the pod's init hooks seen for the first time.
func (d *decider) resolveInit(ps *podState) {
	ps.initHooks = hook.ResolveInitHooks(ps.pod, d.in.Spec, d.in.MaxWait)
	for i := range ps.initHooks {
		h := &ps.initHooks[i]
		key := RecordKey{PodUID: ps.pod.UID, Key: h.Key}
		if _, ok := d.pos[key]; ok {
			continue
		}
		d.addRecord(ps.pod, key, v1alpha1.HookTypeInit)
		if h.Problem != nil {
			d.finish(d.rec(key), v1alpha1.HookPhaseFailed, h.Problem.Reason, h.Problem.Message)
		}
	}
}

// trackInit moves unfinished init records along with their containers' statuses.
func (d *decider) trackInit() {
	for i := range d.records {
		r := &d.records[i]
		if r.Type != v1alpha1.HookTypeInit || r.Phase.IsFinished() {
			continue
		}
		ps := d.pods[r.PodUID]
		if ps == nil {
			if !d.in.FoldedPods[r.PodUID] && !d.forbidden[r.PodUID] {
				d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodDeleted,
					fmt.Sprintf("pod %s was deleted before init container %s completed", r.Pod, r.Container))
			}
			continue
		}
		var h *hook.InitHook
		for j := range ps.initHooks {
			if RecordKeyOfInit(ps.pod.UID, &ps.initHooks[j]) == KeyOf(r) {
				h = &ps.initHooks[j]
			}
		}
		if h == nil {
			d.finish(r, v1alpha1.HookPhaseSkipped, v1alpha1.ReasonHookRemoved,
				"the hook is no longer declared by the run's spec or the pod's annotations")
			continue
		}
		d.trackInitHook(ps.pod, h, r)
	}
}

// RecordKeyOfInit is the record key of an init hook on a pod.
func RecordKeyOfInit(uid types.UID, h *hook.InitHook) RecordKey {
	return RecordKey{PodUID: uid, Key: h.Key}
}

func (d *decider) trackInitHook(pod *corev1.Pod, h *hook.InitHook, r *v1alpha1.HookRecord) {
	found := hook.FindInjected(pod, &h.Container)
	name := found.Name
	if name == "" {
		d.notInjected(pod, h, r, found.Clash)
		return
	}
	var status *corev1.ContainerStatus
	for i := range pod.Status.InitContainerStatuses {
		if pod.Status.InitContainerStatuses[i].Name == name {
			status = &pod.Status.InitContainerStatuses[i]
		}
	}
	final := pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Status.Phase == corev1.PodFailed
	if status != nil {
		r.Attempts = status.RestartCount + 1
		term := status.State.Terminated
		if term == nil && status.LastTerminationState.Terminated != nil && status.State.Running == nil {
			term = status.LastTerminationState.Terminated
		}
		switch {
		case status.State.Terminated != nil && status.State.Terminated.ExitCode == 0:
			t := status.State.Terminated
			code := int32(0)
			r.ExitCode = &code
			r.StartTime = timeOrNil(t.StartedAt)
			d.finishAt(r, v1alpha1.HookPhaseSucceeded, "", "init container "+name+" completed", completedAt(t, d.in.Now))
			return
		case term != nil && term.ExitCode != 0:
			code := term.ExitCode
			r.ExitCode = &code
			r.StartTime = firstTime(r.StartTime, term.StartedAt)
			msg := fmt.Sprintf("init container %s exited %d (%s)", name, code, term.Reason)
			if term.Message != "" {
				msg += ": " + term.Message
			}
			if final {
				d.finishAt(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonNonZeroExit, msg, completedAt(term, d.in.Now))
				return
			}
			r.Phase = v1alpha1.HookPhaseRunning
			r.Message = Truncate(msg+fmt.Sprintf("; the kubelet retries it (restart %d)", status.RestartCount), MaxMessage)
		case status.State.Running != nil:
			r.Phase = v1alpha1.HookPhaseRunning
			r.StartTime = firstTime(r.StartTime, status.State.Running.StartedAt)
			r.Message = "init container " + name + " is running"
		default:
			r.Phase = v1alpha1.HookPhaseWaiting
			r.Message = "waiting for init container " + name + " to start"
		}
	} else {
		r.Phase = v1alpha1.HookPhaseWaiting
		r.Message = "waiting for init container " + name + " to start"
	}
	switch {
	case pod.DeletionTimestamp != nil:
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodDeleted,
			fmt.Sprintf("pod %s is being deleted before init container %s completed", r.Pod, name))
		return
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonPodTerminated,
			fmt.Sprintf("pod %s reached phase %s before init container %s completed", r.Pod, pod.Status.Phase, name))
		return
	}
	deadline := d.waitStart(pod).Add(h.Timeout)
	if !d.in.Now.Before(deadline) {
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonInitTimeout, fmt.Sprintf(
			"init container %s had not completed within its timeout of %s (counted from %s)",
			name, h.Timeout, d.waitStart(pod).UTC().Format(time.RFC3339)))
		return
	}
	d.schedule(deadline)
}

// notInjected records an init hook the pod does not carry: refused by the webhook (its reason), kept
// out by a name clash with one of the pod's own init containers, or missing (the webhook did not see
// the pod).
func (d *decider) notInjected(pod *corev1.Pod, h *hook.InitHook, r *v1alpha1.HookRecord, clash *corev1.Container) {
	refused, _ := hook.DecodeRefused(pod.Annotations[hook.RefusedInitAnnotation])
	switch why, ok := refused[h.Container.Name]; {
	case ok:
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonNotInjected, fmt.Sprintf(
			"init container %s was not injected into pod %s: %s", h.Container.Name, r.Pod, why))
	case clash != nil:
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonInitContainerNameClash, fmt.Sprintf(
			"init container %q was not injected into pod %s: the pod already has an init container of that name "+
				"(image %q, command %q, args %q), which is the pod's own, not the hook; rename the hook's container",
			h.Container.Name, r.Pod, clash.Image, clash.Command, clash.Args))
	default:
		d.finish(r, v1alpha1.HookPhaseFailed, v1alpha1.ReasonNotInjected, fmt.Sprintf(
			"pod %s was created without init container %s: the mutating webhook was unreachable when the pod was "+
				"created, or something other than the restore created it", r.Pod, h.Container.Name))
	}
}

func timeOrNil(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func firstTime(cur *metav1.Time, t metav1.Time) *metav1.Time {
	if cur != nil || t.IsZero() {
		return cur
	}
	return &t
}

func completedAt(t *corev1.ContainerStateTerminated, now time.Time) time.Time {
	if t.FinishedAt.IsZero() {
		return now
	}
	return t.FinishedAt.Time
}

// forbid records every hook a run declares for a pod it may not touch as Failed Forbidden.
func (d *decider) forbid(pod *corev1.Pod) {
	d.forbidden[pod.UID] = true
	msg := fmt.Sprintf("pod %s/%s is in a namespace this run may not touch: a RestoreHookRun acts only on pods "+
		"in its own namespace unless it lives in an admin namespace; the hook was not executed", pod.Namespace, pod.Name)
	var keys []hook.Key
	for _, h := range hook.ResolveExecHooks(pod, d.in.Spec, d.in.MaxWait) {
		keys = append(keys, h.Key)
	}
	for _, h := range hook.ResolveInitHooks(pod, d.in.Spec, d.in.MaxWait) {
		keys = append(keys, h.Key)
	}
	for _, k := range keys {
		key := RecordKey{PodUID: pod.UID, Key: k}
		if _, ok := d.pos[key]; ok {
			continue
		}
		d.addRecord(pod, key, k.Type)
		d.finish(d.rec(key), v1alpha1.HookPhaseFailed, v1alpha1.ReasonForbidden, msg)
	}
}

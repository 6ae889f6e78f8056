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
	corev1 "k8s.io/api/core/v1"
)

// trimPod is the pod cache's transform: it keeps of a restored pod only what the reconciler reads, so
// the cache of a restore with thousands of pods does not hold their volumes, environments, probes,
// resources, conditions and managed fields. Kept: the metadata (labels and annotations: hook
// declarations, Velero's restore label, the takeover marks), the restart policy, every container's
// name (which containers exist), image, command and arguments (an init container is recognised as an
// injected hook by them), init containers' restart policy (sidecars), and of the status the phase and
// the containers' state, readiness, start and restarts (the per-container gates and init-hook records).
//
// Nothing writes a cached pod back whole: the reconciler patches annotations with a merge patch, whose
// diff does not reach the fields left out.
func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{
		RestartPolicy:  pod.Spec.RestartPolicy,
		InitContainers: trimContainers(pod.Spec.InitContainers),
		Containers:     trimContainers(pod.Spec.Containers),
	}
	pod.Status = corev1.PodStatus{
		Phase:                 pod.Status.Phase,
		InitContainerStatuses: trimStatuses(pod.Status.InitContainerStatuses),
		ContainerStatuses:     trimStatuses(pod.Status.ContainerStatuses),
	}
	return pod, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, RestartPolicy: c.RestartPolicy}
	}
	return out
}

func trimStatuses(ss []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(ss) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(ss))
	for i, s := range ss {
		out[i] = corev1.ContainerStatus{Name: s.Name, State: s.State, LastTerminationState: s.LastTerminationState,
			Ready: s.Ready, Started: s.Started, RestartCount: s.RestartCount}
	}
	return out
}

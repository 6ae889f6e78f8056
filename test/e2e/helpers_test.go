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

package e2e

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/test/hookfiles"
)

// newNamespace creates a namespace with a generated name; each spec works in its own.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// newRestore creates a Velero Restore in the Velero namespace, InProgress as while Velero creates pods.
func newRestore() *velerov1.Restore {
	GinkgoHelper()
	r, err := localcluster.NewRestore(ctx, k8sClient, veleroNS)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// completeRestore marks the Restore Completed, as Velero does when it has restored everything.
func completeRestore(r *velerov1.Restore) {
	GinkgoHelper()
	Expect(localcluster.SetRestorePhase(ctx, k8sClient, r, velerov1.RestorePhaseCompleted)).To(Succeed())
}

// restoredPod returns (does not create) a pod labelled as restored by r.
var restoredPod = localcluster.RestoredPod

// runningPod creates a restored pod on kwok's managed node and waits until kwok has it Running.
func runningPod(p *corev1.Pod) *corev1.Pod {
	GinkgoHelper()
	Expect(kwok.RunManagedPod(ctx, p, 20*time.Second)).To(Succeed())
	return p
}

// startingPod creates a restored pod on the unmanaged node, its containers Waiting (ContainerCreating)
// until the test brings them up.
func startingPod(p *corev1.Pod) *corev1.Pod {
	GinkgoHelper()
	Expect(kwok.CreateUnmanagedPod(ctx, p)).To(Succeed())
	return p
}

// newRun creates a RestoreHookRun in namespace for r with the given hook specs.
func newRun(namespace string, r *velerov1.Restore, specs ...v1alpha1.RestoreResourceHookSpec) *v1alpha1.RestoreHookRun {
	GinkgoHelper()
	run := &v1alpha1.RestoreHookRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "run-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookRunSpec{
			RestoreRef: v1alpha1.RestoreReference{Name: r.Name, Namespace: veleroNS},
			Hooks:      v1alpha1.RestoreHooks{Resources: specs},
		},
	}
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	return run
}

// hookSpec is a resource hook spec selecting pods with the given labels (nil: every pod).
func hookSpec(name string, matchLabels map[string]string, hooks ...*v1alpha1.ExecRestoreHook) v1alpha1.RestoreResourceHookSpec {
	s := v1alpha1.RestoreResourceHookSpec{Name: name}
	if matchLabels != nil {
		s.LabelSelector = &metav1.LabelSelector{MatchLabels: matchLabels}
	}
	for _, h := range hooks {
		s.PostHooks = append(s.PostHooks, v1alpha1.RestoreResourceHook{Exec: h})
	}
	return s
}

// shellHook is an exec hook running script with /bin/sh -c in container.
func shellHook(container, script string) *v1alpha1.ExecRestoreHook {
	return &v1alpha1.ExecRestoreHook{Container: container, Command: shell(script)}
}

func shell(script string) []string { return []string{"/bin/sh", "-c", script} }

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// getRun fetches the run's current state.
func getRun(run *v1alpha1.RestoreHookRun) *v1alpha1.RestoreHookRun {
	GinkgoHelper()
	cur := &v1alpha1.RestoreHookRun{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur)).To(Succeed())
	return cur
}

// runPhase polls the run's phase.
func runPhase(run *v1alpha1.RestoreHookRun) func() v1alpha1.RunPhase {
	return func() v1alpha1.RunPhase {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return v1alpha1.RunPhase(err.Error())
		}
		return cur.Status.Phase
	}
}

// records polls the run's hook records rendered as "pod/container:index=Phase(Reason)", in status order.
func records(run *v1alpha1.RestoreHookRun) func() []string {
	return func() []string {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, r := range cur.Status.Hooks {
			_, pod, _ := strings.Cut(r.Pod, "/")
			s := fmt.Sprintf("%s/%s:%d=%s", pod, r.Container, r.Index, r.Phase)
			if r.Reason != "" {
				s += "(" + string(r.Reason) + ")"
			}
			out = append(out, s)
		}
		return out
	}
}

// record returns the run's record for (pod, container, index), failing the spec if there is none.
func record(run *v1alpha1.RestoreHookRun, pod, container string, index int32) v1alpha1.HookRecord {
	GinkgoHelper()
	cur := getRun(run)
	for _, r := range cur.Status.Hooks {
		if r.Pod == run.Namespace+"/"+pod && r.Container == container && r.Index == index {
			return r
		}
	}
	Fail(fmt.Sprintf("no record for %s/%s index %d in %v", pod, container, index, records(run)()))
	return v1alpha1.HookRecord{}
}

// Reading back what hook commands wrote (test/hookfiles).
var (
	lines     = hookfiles.Lines
	fileLines = hookfiles.Poll
)

// hookDir is a fresh directory for the files one spec's hooks write.
func hookDir() string { return hookfiles.Dir("e2e-hooks-") }

// containerStartedAt is when the pod's status says the container started running (to the second).
func containerStartedAt(p *corev1.Pod, container string) time.Time {
	GinkgoHelper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container && cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time
		}
	}
	Fail(fmt.Sprintf("container %s of pod %s/%s is not running", container, p.Namespace, p.Name))
	return time.Time{}
}

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

package webhook_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

// veleroExecAnnotations is an annotation exec hook as the Velero docs write it, with one malformed
// value (carried over unchanged; it fails that hook later, never the pod).
var veleroExecAnnotations = map[string]string{
	hook.ExecCommandAnnotation:        `["/bin/sh", "-c", "echo migrated >> /tmp/hooks"]`,
	hook.ExecContainerAnnotation:      "app",
	hook.ExecOnErrorAnnotation:        "Fail",
	hook.ExecTimeoutAnnotation:        "not-a-duration",
	"team.example.com/owner":          "db-team",
	hook.InitContainerImageAnnotation: "",
}

func annotatedPod(ns string, restore *velerov1.Restore, annotations map[string]string) *corev1.Pod {
	p := restoredPod(ns, restore)
	p.Annotations = map[string]string{}
	for k, v := range annotations {
		p.Annotations[k] = v
	}
	return p
}

func postHookKeys(p *corev1.Pod) map[string]string {
	var keys map[string]string
	Expect(json.Unmarshal([]byte(p.Annotations[hook.PostHookAnnotation]), &keys)).To(Succeed(), p.Annotations[hook.PostHookAnnotation])
	return keys
}

func veleroKeys(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	for k, v := range p.Annotations {
		if len(k) > len(hook.ExecAnnotationPrefix) && k[:len(hook.ExecAnnotationPrefix)] == hook.ExecAnnotationPrefix {
			out[k] = v
		}
	}
	return out
}

var _ = Describe("Pod webhook takeover of annotation exec hooks (SPEC §9)", func() {
	var ns string
	var restore *velerov1.Restore
	BeforeEach(func() {
		ns = newNamespace()
		restore = newRestore()
	})

	It("moves Velero's post.hook keys into restorehooks.io/post-hook and names the run", func() {
		run := runFor(veleroNS, restore)
		pod := create(annotatedPod(ns, restore, veleroExecAnnotations))
		Expect(veleroKeys(pod)).To(BeEmpty(), "Velero must find no annotation exec hook on the created pod")
		Expect(postHookKeys(pod)).To(Equal(map[string]string{
			hook.ExecCommandAnnotation:   `["/bin/sh", "-c", "echo migrated >> /tmp/hooks"]`,
			hook.ExecContainerAnnotation: "app",
			hook.ExecOnErrorAnnotation:   "Fail",
			hook.ExecTimeoutAnnotation:   "not-a-duration",
		}))
		Expect(pod.Annotations[hook.PostHookRunAnnotation]).To(Equal(veleroNS + "/" + run.Name))
		Expect(pod.Annotations).To(HaveKeyWithValue("team.example.com/owner", "db-team"))
	})

	It("takes over for the run a RestoreHookPolicy gives the pod's Restore, even before that run exists", func() {
		backup := "dr-" + randSuffix()
		p := &v1alpha1.RestoreHookPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "pol-" + randSuffix()},
			Spec: v1alpha1.RestoreHookPolicySpec{RestoreSelector: v1alpha1.RestoreSelector{BackupNames: []string{backup}}}}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		time.Sleep(1100 * time.Millisecond) // a Restore created after the policy, to the second
		r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "r-" + randSuffix()},
			Spec: velerov1.RestoreSpec{BackupName: backup}}
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(r), &velerov1.Restore{}) }).Should(Succeed())
		time.Sleep(300 * time.Millisecond) // the webhook reads the Restore and the policy from the cache
		pod := create(annotatedPod(ns, r, map[string]string{hook.ExecCommandAnnotation: "/bin/true"}))
		Expect(veleroKeys(pod)).To(BeEmpty())
		Expect(pod.Annotations[hook.PostHookRunAnnotation]).To(Equal(veleroNS + "/" + r.Name + "-" + p.Name))
	})

	It("takes over for a run in the pod's own namespace", func() {
		run := runFor(ns, restore)
		pod := create(annotatedPod(ns, restore, map[string]string{hook.ExecCommandAnnotation: "/bin/true"}))
		Expect(pod.Annotations[hook.PostHookRunAnnotation]).To(Equal(ns + "/" + run.Name))
	})

	It("leaves the hook to Velero when the Restore's own spec.hooks select the pod (Velero's XOR)", func() {
		restore.Spec.Hooks.Resources = []velerov1.RestoreResourceHookSpec{{Name: "velero-side",
			IncludedNamespaces: []string{ns}, PostHooks: []velerov1.RestoreResourceHook{
				{Exec: &velerov1.ExecRestoreHook{Command: []string{"/bin/true"}}}}}}
		Expect(k8sClient.Update(ctx, restore)).To(Succeed())
		runFor(veleroNS, restore)
		// The webhook reads the Restore from the cache: wait for the update to reach it.
		time.Sleep(300 * time.Millisecond)
		pod := create(annotatedPod(ns, restore, map[string]string{hook.ExecCommandAnnotation: "/bin/true"}))
		Expect(pod.Annotations).To(HaveKeyWithValue(hook.ExecCommandAnnotation, "/bin/true"))
		Expect(pod.Annotations).NotTo(HaveKey(hook.PostHookAnnotation))
	})

	It("leaves the hook to Velero when no run honouring annotations covers the pod", func() {
		ignoring := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "ignoring-" + randSuffix()},
			Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore.Name, Namespace: veleroNS},
				PodAnnotations: v1alpha1.PodAnnotationsIgnore}}
		Expect(k8sClient.Create(ctx, ignoring)).To(Succeed())
		time.Sleep(200 * time.Millisecond)
		pod := create(annotatedPod(ns, restore, map[string]string{hook.ExecCommandAnnotation: "/bin/true"}))
		Expect(pod.Annotations).To(HaveKeyWithValue(hook.ExecCommandAnnotation, "/bin/true"))
		Expect(pod.Annotations).NotTo(HaveKey(hook.PostHookAnnotation))

		other := newRestore()
		pod = create(annotatedPod(ns, other, map[string]string{hook.ExecCommandAnnotation: "/bin/true"}))
		Expect(pod.Annotations).To(HaveKeyWithValue(hook.ExecCommandAnnotation, "/bin/true"))
	})

	It("drops a stale hooks-done and re-decides a stale takeover mark that came from a backup", func() {
		run := runFor(veleroNS, restore)
		stale, _ := hook.TakeOver(map[string]string{hook.ExecCommandAnnotation: "/bin/old-run"}, "velero/some-old-run")
		stale[hook.HooksDoneAnnotation] = "velero/some-old-run"
		pod := create(annotatedPod(ns, restore, stale))
		Expect(pod.Annotations).NotTo(HaveKey(hook.HooksDoneAnnotation))
		Expect(pod.Annotations[hook.PostHookRunAnnotation]).To(Equal(veleroNS + "/" + run.Name))
		Expect(postHookKeys(pod)).To(Equal(map[string]string{hook.ExecCommandAnnotation: "/bin/old-run"}))
		Expect(veleroKeys(pod)).To(BeEmpty())

		// Without a covering run, the same pod gets Velero's keys back: Velero runs its hook.
		other := newRestore()
		pod = create(annotatedPod(ns, other, stale))
		Expect(pod.Annotations).To(HaveKeyWithValue(hook.ExecCommandAnnotation, "/bin/old-run"))
		Expect(pod.Annotations).NotTo(HaveKey(hook.PostHookAnnotation))
		Expect(pod.Annotations).NotTo(HaveKey(hook.PostHookRunAnnotation))
		Expect(pod.Annotations).NotTo(HaveKey(hook.HooksDoneAnnotation))
	})

	It("runs the taken-over hook from our annotation, parsed like Velero's", func() {
		run := runFor(veleroNS, restore)
		pod := create(annotatedPod(ns, restore, veleroExecAnnotations))
		Expect(pod.Annotations).To(HaveKey(hook.PostHookAnnotation))
		Eventually(func() string {
			cur := &v1alpha1.RestoreHookRun{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
				return err.Error()
			}
			for _, r := range cur.Status.Hooks {
				if r.Type == v1alpha1.HookTypeExec && r.Pod == ns+"/"+pod.Name {
					return string(r.Source) + " " + string(r.Phase) + " " + string(r.Reason) + ": " + r.Message
				}
			}
			return "no exec record"
		}, 20*time.Second).Should(SatisfyAll(
			HavePrefix("Annotation Failed InvalidAnnotation"),
			ContainSubstring(hook.ExecTimeoutAnnotation),
			ContainSubstring(`"not-a-duration"`)))
	})
})

var _ = Describe("Init hooks and Pod Security (issue 19 item 5)", func() {
	privilegedHook := func() v1alpha1.RestoreResourceHook {
		ctr := c("root-prep", "busybox", "true")
		ctr.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		return initHook(ctr)
	}

	It("refuses a run whose init container breaks the namespace's level, naming the field", func() {
		ns := newNamespace()
		run := userRun(ns)
		run.Spec.Hooks.Resources[0].PostHooks = append(run.Spec.Hooks.Resources[0].PostHooks, privilegedHook())
		err := k8sClient.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources[0].postHooks[1].init.initContainers[0].securityContext.privileged"))
		Expect(err.Error()).To(ContainSubstring(`"baseline:latest"`))
		Expect(err.Error()).To(ContainSubstring(ns))
	})

	It("admits it where the namespace enforces privileged", func() {
		ns := newNamespace()
		labelNamespace(ns, "privileged")
		run := userRun(ns)
		run.Spec.Hooks.Resources[0].PostHooks = append(run.Spec.Hooks.Resources[0].PostHooks, privilegedHook())
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
	})

	It("checks an admin run against every existing namespace its patterns match", func() {
		ns := newNamespace()
		labelNamespace(ns, "restricted")
		run := userRun(veleroNS, "wh-*")
		run.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
		run.Spec.Hooks.Resources[0].PostHooks = []v1alpha1.RestoreResourceHook{initHook(c("prep", "busybox", "true"))}
		err := k8sClient.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources[0].postHooks[0].init.initContainers[0].securityContext.runAsNonRoot"))
		Expect(err.Error()).To(ContainSubstring(`"restricted:latest"`))
		Expect(err.Error()).To(ContainSubstring(ns))
	})

	It("does not inject a container the namespace's level forbids, and records NotInjected with the reason; the pod is admitted", func() {
		ns := newNamespace()
		labelNamespace(ns, "privileged")
		restore := newRestore()
		run := runFor(ns, restore, privilegedHook())
		labelNamespace(ns, "baseline")
		time.Sleep(200 * time.Millisecond)
		pod := create(restoredPod(ns, restore))
		Expect(initNames(pod)).To(BeEmpty())
		refused, err := hook.DecodeRefused(pod.Annotations[hook.RefusedInitAnnotation])
		Expect(err).NotTo(HaveOccurred())
		Expect(refused).To(HaveKeyWithValue("root-prep", ContainSubstring("securityContext.privileged")))
		Eventually(func() string {
			cur := &v1alpha1.RestoreHookRun{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
				return err.Error()
			}
			for _, r := range cur.Status.Hooks {
				if r.Type == v1alpha1.HookTypeInit {
					return string(r.Phase) + "(" + string(r.Reason) + "): " + r.Message
				}
			}
			return "no init record"
		}, 20*time.Second).Should(SatisfyAll(HavePrefix("Failed(NotInjected)"),
			ContainSubstring(`"baseline:latest"`), ContainSubstring("securityContext.privileged")))
	})

	It("denies a run with init hooks to a user who may exec but not create pods, naming the permission", func() {
		ns := newNamespace()
		dave := asUser("dave-"+randSuffix(), ns, manageRuns, execPods)
		run := userRun(ns)
		run.Spec.Hooks.Resources[0].PostHooks = append(run.Spec.Hooks.Resources[0].PostHooks, initHook(c("prep", "busybox", "true")))
		err := dave.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not create pods"))
		Expect(err.Error()).To(ContainSubstring(`in namespace "` + ns + `"`))

		erin := asUser("erin-"+randSuffix(), ns, manageRuns, execPods, createPods)
		run = userRun(ns)
		run.Spec.Hooks.Resources[0].PostHooks = append(run.Spec.Hooks.Resources[0].PostHooks, initHook(c("prep", "busybox", "true")))
		Expect(erin.Create(ctx, run)).To(Succeed())
	})
})

var _ = Describe("Init hook named like one of the pod's own init containers (issue 19 item 4)", func() {
	It("is not injected and is recorded Failed InitContainerNameClash, not Succeeded", func() {
		ns := newNamespace()
		restore := newRestore()
		run := runFor(ns, restore, initHook(c("migrate", "busybox", "true")))
		pod := create(restoredPod(ns, restore, c("migrate", "app-migrations:2", "/migrate", "up")))
		Expect(initNames(pod)).To(Equal([]string{"migrate"}))
		Expect(pod.Spec.InitContainers[0].Image).To(Equal("app-migrations:2"))
		setInitStatus(pod, corev1.PodRunning, corev1.ContainerStatus{Name: "migrate",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}})
		Eventually(initRecord(run)).Should(Equal("migrate=Failed(InitContainerNameClash) attempts 0"))
	})
})

func labelNamespace(name, level string) {
	Eventually(func() error {
		var ns corev1.Namespace
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			return err
		}
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels["pod-security.kubernetes.io/enforce"] = level
		return k8sClient.Update(ctx, &ns)
	}).Should(Succeed())
	time.Sleep(200 * time.Millisecond) // the webhooks read namespaces from the manager's cache
}

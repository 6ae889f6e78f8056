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
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
)

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "wh-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func newRestore() *velerov1.Restore {
	r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "r-" + rand.String(6)},
		Spec: velerov1.RestoreSpec{BackupName: "b1"}, Status: velerov1.RestoreStatus{Phase: velerov1.RestorePhaseInProgress}}
	Expect(k8sClient.Create(ctx, r)).To(Succeed())
	return r
}

func initHook(containers ...corev1.Container) v1alpha1.RestoreResourceHook {
	return v1alpha1.RestoreResourceHook{Init: &v1alpha1.InitRestoreHook{InitContainers: containers}}
}

func runFor(namespace string, restore *velerov1.Restore, hooks ...v1alpha1.RestoreResourceHook) *v1alpha1.RestoreHookRun {
	run := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "run-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restore.Name, Namespace: veleroNS}}}
	if len(hooks) > 0 {
		run.Spec.Hooks.Resources = []v1alpha1.RestoreResourceHookSpec{{Name: "h", PostHooks: hooks}}
	}
	Expect(k8sClient.Create(ctx, run)).To(Succeed())
	// The webhook reads runs from the manager's cache: wait until it has this one.
	time.Sleep(200 * time.Millisecond)
	return run
}

// restoredPod returns (uncreated) a pod labelled as restored by restore.
func restoredPod(namespace string, restore *velerov1.Restore, initContainers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "p-" + rand.String(5),
			Labels: map[string]string{velerov1.RestoreNameLabel: restore.Name}},
		Spec: corev1.PodSpec{
			InitContainers: initContainers,
			Containers: []corev1.Container{{Name: "app", Image: "app:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func create(p *corev1.Pod) *corev1.Pod {
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

func initNames(p *corev1.Pod) []string {
	var names []string
	for _, c := range p.Spec.InitContainers {
		names = append(names, c.Name)
	}
	return names
}

func c(name, image string, cmd ...string) corev1.Container {
	return corev1.Container{Name: name, Image: image, Command: cmd}
}

var _ = Describe("Pod mutating webhook", func() {
	var ns string
	var restore *velerov1.Restore
	BeforeEach(func() {
		ns = newNamespace()
		restore = newRestore()
	})

	DescribeTable("injects init hooks first, after restore-wait, in declaration order, without duplicates",
		func(existing []corev1.Container, hooks []v1alpha1.RestoreResourceHook, want []string) {
			runFor(ns, restore, hooks...)
			pod := create(restoredPod(ns, restore, existing...))
			Expect(initNames(pod)).To(Equal(want))
		},
		Entry("no init containers",
			nil, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"h1"}),
		Entry("existing init containers stay after the hooks",
			[]corev1.Container{c("app-init", "busybox", "migrate")}, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"h1", "app-init"}),
		Entry("restore-wait first stays first",
			[]corev1.Container{c("restore-wait", "velero-helper"), c("app-init", "busybox")}, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"restore-wait", "h1", "app-init"}),
		Entry("restore-wait not first: hooks go right after it",
			[]corev1.Container{c("app-init", "busybox"), c("restore-wait", "velero-helper")}, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"app-init", "restore-wait", "h1"}),
		Entry("two spec hooks in order",
			nil, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "one"), c("h2", "busybox", "two")), initHook(c("h3", "busybox", "three"))},
			[]string{"h1", "h2", "h3"}),
		Entry("a container of the same name is not injected again",
			[]corev1.Container{c("h1", "busybox", "true")}, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"h1"}),
		Entry("a container of the same image and command is not injected again",
			[]corev1.Container{c("velero-restore-init-1234", "busybox", "true")}, []v1alpha1.RestoreResourceHook{initHook(c("h1", "busybox", "true"))},
			[]string{"velero-restore-init-1234"}),
	)

	It("records what it injected on the pod", func() {
		runFor(ns, restore, initHook(c("h1", "busybox", "true"), c("h2", "busybox", "two")))
		pod := create(restoredPod(ns, restore))
		got, err := hook.DecodeInjected(pod.Annotations[hook.InjectedAnnotation])
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]string{"h1", "h2"}))
	})

	It("injects the annotation container alone (XOR), named restore-hook-init, with the app's volume mounts and the image entrypoint", func() {
		runFor(ns, restore, initHook(c("spec-hook", "busybox", "true")))
		p := restoredPod(ns, restore)
		p.Annotations = map[string]string{hook.InitContainerImageAnnotation: "alpine:3.18"}
		pod := create(p)
		Expect(initNames(pod)).To(Equal([]string{"restore-hook-init"}))
		ic := pod.Spec.InitContainers[0]
		Expect(ic.Image).To(Equal("alpine:3.18"))
		Expect(ic.Command).To(BeEmpty())
		Expect(ic.VolumeMounts).To(Equal([]corev1.VolumeMount{{Name: "data", MountPath: "/data"}}))
	})

	It("injects the seeds' legacy-app annotation hook as written", func() {
		runFor(ns, restore)
		p := restoredPod(ns, restore, c("restore-wait", "velero-helper"))
		p.Annotations = map[string]string{
			hook.InitContainerImageAnnotation: "alpine:3.18",
			hook.InitCommandAnnotation:        `["/bin/sh", "-c", "echo Migrating...; sleep 2"]`,
		}
		pod := create(p)
		Expect(initNames(pod)).To(Equal([]string{"restore-wait", "restore-hook-init"}))
		Expect(pod.Spec.InitContainers[1].Command).To(Equal([]string{"/bin/sh", "-c", "echo Migrating...; sleep 2"}))
	})

	It("leaves pods without the restore label alone", func() {
		runFor(ns, restore, initHook(c("h1", "busybox", "true")))
		p := restoredPod(ns, restore)
		p.Labels = map[string]string{"app": "x"}
		Expect(initNames(create(p))).To(BeEmpty())
	})

	It("leaves pods of a restore no run names alone", func() {
		runFor(ns, restore, initHook(c("h1", "busybox", "true")))
		other := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}
		Expect(initNames(create(restoredPod(ns, other)))).To(BeEmpty())
	})

	It("does not inject for a run that may not touch the pod's namespace", func() {
		elsewhere := newNamespace()
		runFor(elsewhere, restore, initHook(c("h1", "busybox", "true")))
		Expect(initNames(create(restoredPod(ns, restore)))).To(BeEmpty())
	})
})

// setInitStatus writes an init container's status (and the pod phase) as a kubelet would.
func setInitStatus(p *corev1.Pod, phase corev1.PodPhase, st corev1.ContainerStatus) {
	Eventually(func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		p.Status.Phase = phase
		st.Image, st.ImageID = "busybox", "busybox"
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{st}
		return k8sClient.Status().Update(ctx, p)
	}).Should(Succeed())
}

func initRecord(run *v1alpha1.RestoreHookRun) func() string {
	return func() string {
		cur := &v1alpha1.RestoreHookRun{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(run), cur); err != nil {
			return err.Error()
		}
		for _, r := range cur.Status.Hooks {
			if r.Type == v1alpha1.HookTypeInit {
				s := fmt.Sprintf("%s=%s", r.Container, r.Phase)
				if r.Reason != "" {
					s += "(" + string(r.Reason) + ")"
				}
				if r.ExitCode != nil {
					s += fmt.Sprintf(" exit %d", *r.ExitCode)
				}
				return s + fmt.Sprintf(" attempts %d", r.Attempts)
			}
		}
		return "no init record"
	}
}

var _ = Describe("Init hook tracking", func() {
	var ns string
	var restore *velerov1.Restore
	BeforeEach(func() {
		ns = newNamespace()
		restore = newRestore()
	})

	It("records Succeeded when the injected container exits 0", func() {
		run := runFor(ns, restore, initHook(c("prep", "busybox", "true")))
		pod := create(restoredPod(ns, restore))
		Eventually(initRecord(run)).Should(Equal("prep=Waiting attempts 0"))
		setInitStatus(pod, corev1.PodPending, corev1.ContainerStatus{Name: "prep",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}})
		Eventually(initRecord(run)).Should(Equal("prep=Succeeded exit 0 attempts 1"))
	})

	It("records NonZeroExit with the exit code and restart count once the pod will not retry", func() {
		run := runFor(ns, restore, initHook(c("prep", "busybox", "false")))
		p := restoredPod(ns, restore)
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		pod := create(p)
		setInitStatus(pod, corev1.PodFailed, corev1.ContainerStatus{Name: "prep", RestartCount: 0,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 7, Reason: "Error"}}})
		Eventually(initRecord(run)).Should(Equal("prep=Failed(NonZeroExit) exit 7 attempts 1"))
	})

	It("records InitTimeout when the container has not completed within its timeout", func() {
		run := runFor(ns, restore, v1alpha1.RestoreResourceHook{Init: &v1alpha1.InitRestoreHook{
			InitContainers: []corev1.Container{c("prep", "busybox", "sleep", "3600")},
			Timeout:        &metav1.Duration{Duration: 2 * time.Second}}})
		pod := create(restoredPod(ns, restore))
		setInitStatus(pod, corev1.PodPending, corev1.ContainerStatus{Name: "prep",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
		Eventually(initRecord(run), 10*time.Second).Should(Equal("prep=Failed(InitTimeout) attempts 1"))
	})

	It("records NotInjected for a pod created while the webhook was unreachable", func() {
		run := runFor(ns, restore, initHook(c("prep", "busybox", "true")))

		// Point the pod webhook at a closed port: failurePolicy Ignore admits the pod untouched.
		var mwc admissionv1.MutatingWebhookConfiguration
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "mutating-webhook-configuration"}, &mwc)).To(Succeed())
		saved := mwc.DeepCopy()
		mwc.Webhooks[0].ClientConfig.URL = ptr.To("https://127.0.0.1:1/mutate--v1-pod")
		Expect(k8sClient.Update(ctx, &mwc)).To(Succeed())
		pod := create(restoredPod(ns, restore))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saved), &mwc)).To(Succeed())
		mwc.Webhooks = saved.Webhooks
		Expect(k8sClient.Update(ctx, &mwc)).To(Succeed())

		Expect(initNames(pod)).To(BeEmpty())
		Eventually(initRecord(run)).Should(Equal("prep=Failed(NotInjected) attempts 0"))
	})
})

// asUser returns a client acting as a new user with the given RBAC rules in namespace ns.
func asUser(name, ns string, rules ...rbacv1.PolicyRule) client.Client {
	user, err := testEnv.AddUser(envtest.User{Name: name, Groups: []string{"tenants"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
	Expect(k8sClient.Create(ctx, role)).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: name}},
	})).To(Succeed())
	c, err := client.New(user.Config(), client.Options{Scheme: k8sClient.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

var (
	manageRuns = rbacv1.PolicyRule{APIGroups: []string{"hooks.restorehooks.io"}, Resources: []string{"restorehookruns"},
		Verbs: []string{"create", "update", "get"}}
	execPods   = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}}
	createPods = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}
)

func randSuffix() string { return rand.String(4) }

func userRun(namespace string, includes ...string) *v1alpha1.RestoreHookRun {
	return &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "run-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "r1"},
			Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: includes,
				PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{Command: []string{"true"}}}}}}}}}
}

var _ = Describe("RestoreHookRun validating webhook", func() {
	It("rejects a run outside the admin namespaces that names another namespace, naming it", func() {
		ns := newNamespace()
		err := k8sClient.Create(ctx, userRun(ns, ns, "prod-db", "kube-*"))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`it names "prod-db", "kube-*"`))
		Expect(err.Error()).To(ContainSubstring("spec.hooks.resources.includedNamespaces"))
	})

	It("admits a run in an admin namespace that reaches other namespaces", func() {
		Expect(k8sClient.Create(ctx, userRun(veleroNS, "prod-db"))).To(Succeed())
	})

	It("rejects what CEL cannot check: bad selectors, bad globs, init container names reused across hooks", func() {
		ns := newNamespace()
		run := userRun(ns)
		run.Spec.Hooks.Resources[0].LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "app", Operator: "Bogus", Values: []string{"x"}}}}
		run.Spec.Hooks.Resources[0].ExcludedNamespaces = []string{"[unclosed"}
		run.Spec.Hooks.Resources = append(run.Spec.Hooks.Resources,
			v1alpha1.RestoreResourceHookSpec{Name: "a", PostHooks: []v1alpha1.RestoreResourceHook{initHook(c("prep", "busybox"))}},
			v1alpha1.RestoreResourceHookSpec{Name: "b", PostHooks: []v1alpha1.RestoreResourceHook{initHook(c("prep", "alpine"))}})
		err := k8sClient.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		msg := err.Error()
		Expect(msg).To(ContainSubstring("spec.hooks.resources[0].labelSelector"))
		Expect(msg).To(ContainSubstring("Bogus"))
		Expect(msg).To(ContainSubstring("[unclosed"))
		Expect(msg).To(ContainSubstring("spec.hooks.resources[2].postHooks[0].init.initContainers[0].name"))
	})

	It("denies a user without pods/exec in the run's namespace, naming the permission", func() {
		ns := newNamespace()
		bob := asUser("bob-"+rand.String(4), ns, manageRuns)
		err := bob.Create(ctx, userRun(ns))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not create pods/exec"))
		Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("in namespace %q", ns)))
	})

	It("admits a user who may create pods/exec in the run's namespace", func() {
		ns := newNamespace()
		alice := asUser("alice-"+rand.String(4), ns, manageRuns, execPods)
		Expect(alice.Create(ctx, userRun(ns))).To(Succeed())
	})

	It("asks for cluster-wide pods/exec when an admin-namespace run can reach every namespace", func() {
		name := "carol-" + rand.String(4)
		carol := asUser(name, veleroNS, manageRuns, execPods)
		err := carol.Create(ctx, userRun(veleroNS, "team-a"))
		Expect(err).To(HaveOccurred(), "pod annotations are honoured, so the run reaches every namespace")
		Expect(err.Error()).To(ContainSubstring("cluster-wide"))

		run := userRun(veleroNS, veleroNS)
		run.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
		Expect(carol.Create(ctx, run)).To(Succeed(), "spec hooks limited to a namespace she may exec in")
		run = userRun(veleroNS, "team-a")
		run.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
		err = carol.Create(ctx, run)
		Expect(err).To(HaveOccurred())
		Expect(strings.Contains(err.Error(), `in namespace "team-a"`)).To(BeTrue(), err.Error())
	})
})

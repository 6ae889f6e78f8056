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

package controllers_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/operator"
)

var _ = Describe("RestoreHookRun reconciler", func() {
	var (
		ns   string
		fake *exec.Fake
		op   *runningOperator
	)
	BeforeEach(func() {
		ensureVeleroNamespace()
		ns = newNamespace("hooks")
		fake = &exec.Fake{}
		op = startOperator(fake)
	})
	AfterEach(func() {
		if op != nil {
			op.stop()
		}
	})

	It("runs an annotation hook, records its outcome and follows the Restore to Completed", func() {
		restore := newRestore()
		run := newRun(ns, restore, nil)
		// This suite has no webhooks: the pod arrives as the pod webhook leaves it when it takes the
		// hook over from Velero for this run.
		pod := newPod(ns, "app", restore, []string{"main"}, takenOver(ns+"/"+run.Name, map[string]string{
			hook.ExecCommandAnnotation: `["/bin/sh", "-c", "echo restored"]`,
		}))
		fake.SetResults(exec.Key(ns, "app", "main", "/bin/sh", "-c", "echo restored"),
			exec.Result{ExitCode: 0, Stdout: "restored\n"})

		Eventually(recordPhases(run)).Should(Equal([]string{"app/main:0=Waiting"}))
		Expect(runPhase(run)()).To(Equal(v1alpha1.RunPhaseRunning))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{"app/main:0=Succeeded"}))
		Expect(runPhase(run)()).To(Equal(v1alpha1.RunPhaseRunning), "the Restore can still create pods")

		setRestorePhase(restore, velerov1.RestorePhaseCompleted)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted))

		got := getRun(run)
		rec := got.Status.Hooks[0]
		Expect(rec.Source).To(Equal(v1alpha1.HookSourceAnnotation))
		Expect(rec.Hook).To(Equal(v1alpha1.AnnotationHookName))
		Expect(rec.Type).To(Equal(v1alpha1.HookTypeExec))
		Expect(rec.PodUID).To(Equal(pod.UID))
		Expect(rec.Attempts).To(BeEquivalentTo(1))
		Expect(rec.ExitCode).To(Equal(ptr.To[int32](0)))
		Expect(rec.Stdout).To(Equal("restored\n"))
		Expect(rec.StartTime).NotTo(BeNil())
		Expect(rec.CompletionTime).NotTo(BeNil())
		Expect(got.Status.HooksAttempted).To(BeEquivalentTo(1))
		Expect(got.Status.HooksSucceeded).To(BeEquivalentTo(1))
		Expect(got.Status.HooksFailed).To(BeZero())
		Expect(got.Status.Summary).To(Equal("1/1"))
		Expect(got.Status.PodsInScope).To(BeEquivalentTo(1))
		Expect(got.Status.RestorePhase).To(Equal("Completed"))
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Status.CompletionTime).NotTo(BeNil())
		completed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionCompleted)
		Expect(completed).NotTo(BeNil())
		Expect(completed.Status).To(Equal(metav1.ConditionTrue))
		Expect(completed.Reason).To(Equal("Completed"))
		Expect(completed.ObservedGeneration).To(Equal(got.Generation))
		Expect(meta.IsStatusConditionFalse(got.Status.Conditions, v1alpha1.ConditionDegraded)).To(BeTrue())

		Eventually(eventReasons(run)).Should(ContainElements("RunStarted", "RunCompleted"))
		Eventually(eventReasons(pod)).Should(ContainElement("RestoreHookSucceeded"))
		Expect(callsIn(fake, ns)).To(Equal([]string{"app/main:/bin/sh -c echo restored"}))

		// Once its hooks ended, the pod gets Velero's declaration back and says which run ran it.
		Eventually(func() map[string]string {
			var got corev1.Pod
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &got)).To(Succeed())
			return got.Annotations
		}).Should(And(
			HaveKeyWithValue(hook.ExecCommandAnnotation, `["/bin/sh", "-c", "echo restored"]`),
			HaveKeyWithValue(hook.HooksDoneAnnotation, ns+"/"+run.Name),
			Not(HaveKey(hook.PostHookAnnotation)), Not(HaveKey(hook.PostHookRunAnnotation))))
	})

	It("records Velero's and other runs' annotation hooks as skipped, never runs them, and is not degraded by them", func() {
		restore := newRestore()
		run := newRun(ns, restore, nil)
		velero := newPod(ns, "velero", restore, []string{"main"}, map[string]string{hook.ExecCommandAnnotation: "/bin/velero-runs-me"})
		other := newPod(ns, "other", restore, []string{"main"}, takenOver(ns+"/someone-else", map[string]string{hook.ExecCommandAnnotation: "/bin/other"}))
		setRunning(velero, false, "main")
		setRunning(other, false, "main")
		setRestorePhase(restore, velerov1.RestorePhaseCompleted)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted))
		Expect(recordPhases(run)()).To(ConsistOf("velero/main:0=Skipped(RunByVelero)", "other/main:0=Skipped(AlreadyRun)"))
		st := getRun(run).Status
		Expect([]int32{st.HooksAttempted, st.HooksSkipped, st.HooksFailed}).To(Equal([]int32{0, 2, 0}))
		Expect(meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionDegraded)).To(BeFalse())
		for _, r := range st.Hooks {
			Expect(r.Reason).To(BeElementOf(v1alpha1.ReasonRunByVelero, v1alpha1.ReasonAlreadyRun))
		}
		Expect(callsIn(fake, ns)).To(BeEmpty())
	})

	// A dependent entry is released once the Restore finished and its last pods had time to reach the
	// cache; no event marks that moment, so the run must look again by itself, not at its 5-minute ceiling.
	It("releases a dependent entry soon after the Restore completes", func() {
		restore := newRestore()
		db := execSpec("db", execHook("main", "/bin/db"))
		db.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
		app := execSpec("app", execHook("side", "/bin/app"))
		app.DependsOn = []string{"db"}
		run := newRun(ns, restore, nil, db, app)
		pod := newPod(ns, "p", restore, []string{"main", "side"}, nil)
		setRunning(pod, false, "main", "side")
		Eventually(recordPhases(run)).Should(ConsistOf("p/main:0=Succeeded", "p/side:0=Waiting(WaitingForDependency)"))

		Eventually(func() error {
			if err := k8sClient.Get(ctx, clientKey(restore), restore); err != nil {
				return err
			}
			restore.Status.Phase = velerov1.RestorePhaseCompleted
			restore.Status.CompletionTimestamp = ptr.To(metav1.Now())
			return k8sClient.Update(ctx, restore)
		}).Should(Succeed())
		Eventually(recordPhases(run), 15*time.Second).Should(ConsistOf("p/main:0=Succeeded", "p/side:0=Succeeded"))
		Expect(callsIn(fake, ns)).To(Equal([]string{"p/main:/bin/db", "p/side:/bin/app"}))
		Eventually(eventReasons(run)).Should(ContainElement("EntryReleased"))
	})

	It("lets an annotation exec hook replace the spec exec hooks of its pod only (Velero's XOR)", func() {
		restore := newRestore()
		run := newRun(ns, restore, nil, execSpec("spec-hooks", execHook("", "/bin/spec")))
		annotated := newPod(ns, "annotated", restore, []string{"main"}, takenOver(ns+"/"+run.Name, map[string]string{
			hook.ExecCommandAnnotation: "/bin/annotated",
		}))
		plain := newPod(ns, "plain", restore, []string{"main"}, nil)
		setRunning(annotated, false, "main")
		setRunning(plain, false, "main")
		Eventually(recordPhases(run)).Should(ConsistOf("annotated/main:0=Succeeded", "plain/main:0=Succeeded"))
		Expect(callsIn(fake, ns)).To(ConsistOf("annotated/main:/bin/annotated", "plain/main:/bin/spec"))
	})

	It("runs one hook at a time per pod, serving containers in the order they come up", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"first", "second"}, nil)
		run := newRun(ns, restore, nil, execSpec("h",
			execHook("first", "a"), execHook("second", "b"), execHook("first", "c")))
		Eventually(recordPhases(run)).Should(HaveLen(3))

		setRunning(pod, false, "second")
		Eventually(func() []string { return callsIn(fake, ns) }).Should(Equal([]string{"db/second:b"}))
		time.Sleep(300 * time.Millisecond) // first is not up: nothing else may run
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/second:b"}))

		setRunning(pod, false, "first", "second")
		Eventually(recordPhases(run)).Should(Equal([]string{
			"db/first:0=Succeeded", "db/second:1=Succeeded", "db/first:2=Succeeded"}))
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/second:b", "db/first:a", "db/first:c"}))
	})

	It("waits for Ready when a hook of the container sets waitForReady", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		h := execHook("main", "ready-only")
		h.WaitForReady = ptr.To(true)
		run := newRun(ns, restore, nil, execSpec("h", h))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Waiting"}))
		Consistently(func() []string { return callsIn(fake, ns) }, 300*time.Millisecond).Should(BeEmpty())
		setRunning(pod, true, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Succeeded"}))
	})

	It("onError Fail in one pod skips every unstarted hook of the run, in other pods too", func() {
		restore := newRestore()
		a := newPod(ns, "a", restore, []string{"main"}, nil)
		newPod(ns, "b", restore, []string{"main"}, nil) // never comes up
		failing := execHook("main", "fails")
		failing.OnError = v1alpha1.HookErrorModeFail
		fake.SetResults(exec.Key(ns, "a", "main", "fails"), exec.ExitResult(3))
		run := newRun(ns, restore, nil, execSpec("h", failing, execHook("main", "after")))
		setRunning(a, false, "main")

		Eventually(recordPhases(run)).Should(Equal([]string{
			"a/main:0=Failed(NonZeroExit)", "a/main:1=Skipped(AbortedByFailPolicy)",
			"b/main:0=Skipped(AbortedByFailPolicy)", "b/main:1=Skipped(AbortedByFailPolicy)"}))
		got := getRun(run)
		Expect(got.Status.AbortedBy).To(ContainSubstring(ns + "/a"))
		Expect(got.Status.Hooks[0].ExitCode).To(Equal(ptr.To[int32](3)))
		Expect(got.Status.HooksFailed).To(BeEquivalentTo(1))
		Expect(got.Status.HooksSkipped).To(BeEquivalentTo(3))
		Expect(callsIn(fake, ns)).To(Equal([]string{"a/main:fails"}))

		setRestorePhase(restore, velerov1.RestorePhasePartiallyFailed)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhasePartiallyFailed))
		Expect(meta.IsStatusConditionTrue(getRun(run).Status.Conditions, v1alpha1.ConditionDegraded)).To(BeTrue())
		Eventually(eventReasons(run)).Should(ContainElements("HookFailed", "RunPartiallyFailed"))
	})

	It("onError Continue in one pod leaves the pod's other hooks and other pods alone", func() {
		restore := newRestore()
		a := newPod(ns, "a", restore, []string{"main"}, nil)
		b := newPod(ns, "b", restore, []string{"main"}, nil)
		fake.SetResults(exec.Key(ns, "a", "main", "fails"), exec.ExitResult(1))
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "fails"), execHook("main", "after")))
		setRunning(a, false, "main")
		Eventually(recordPhases(run)).Should(ContainElements("a/main:0=Failed(NonZeroExit)", "a/main:1=Succeeded"))
		setRunning(b, false, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{
			"a/main:0=Failed(NonZeroExit)", "a/main:1=Succeeded", "b/main:0=Succeeded", "b/main:1=Succeeded"}))
		Expect(getRun(run).Status.AbortedBy).To(BeEmpty())
	})

	It("fails a hook whose container is not up within waitTimeout, without executing it", func() {
		restore := newRestore()
		newPod(ns, "stuck", restore, []string{"main"}, nil)
		h := execHook("main", "never")
		h.WaitTimeout = &metav1.Duration{Duration: 2 * time.Second}
		run := newRun(ns, restore, nil, execSpec("h", h))
		Eventually(recordPhases(run), 10*time.Second).Should(Equal([]string{"stuck/main:0=Failed(WaitTimeout)"}))
		Expect(getRun(run).Status.Hooks[0].Message).To(ContainSubstring("was not executed"))
		Expect(callsIn(fake, ns)).To(BeEmpty())
	})

	It("expires a hook that waits behind a long-running one in the same container", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		release := fake.Block(exec.Key(ns, "db", "main", "slow"))
		defer release()
		second := execHook("main", "second")
		second.WaitTimeout = &metav1.Duration{Duration: 2 * time.Second}
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "slow"), second))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run), 10*time.Second).Should(Equal([]string{
			"db/main:0=Running", "db/main:1=Failed(WaitTimeout)"}))
		release()
		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Succeeded", "db/main:1=Failed(WaitTimeout)"}))
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/main:slow"}))
	})

	It("fails a command that outlives execTimeout with ExecTimeout", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		release := fake.Block(exec.Key(ns, "db", "main", "hang"))
		defer release()
		h := execHook("main", "hang")
		h.ExecTimeout = &metav1.Duration{Duration: time.Second}
		run := newRun(ns, restore, nil, execSpec("h", h))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run), 10*time.Second).Should(Equal([]string{"db/main:0=Failed(ExecTimeout)"}))
	})

	It("records ContainerNotFound for a hook naming a container the pod lacks, and native sidecars are valid", func() {
		restore := newRestore()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db",
			Labels: map[string]string{velerov1.RestoreNameLabel: restore.Name}},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "sidecar", Image: "busybox", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
				Containers:     []corev1.Container{{Name: "main", Image: "busybox"}},
			}}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		run := newRun(ns, restore, nil, execSpec("h", execHook("nope", "x"), execHook("sidecar", "y")))
		Eventually(recordPhases(run)).Should(ContainElement("db/nope:0=Failed(ContainerNotFound)"))
		Eventually(func() error {
			if err := k8sClient.Get(ctx, clientKey(pod), pod); err != nil {
				return err
			}
			pod.Status.Phase = corev1.PodRunning
			pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "sidecar", Image: "busybox", ImageID: "busybox",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
			return k8sClient.Status().Update(ctx, pod)
		}).Should(Succeed())
		Eventually(recordPhases(run)).Should(Equal([]string{"db/nope:0=Failed(ContainerNotFound)", "db/sidecar:1=Succeeded"}))
		Expect(getRun(run).Status.Hooks[0].Message).To(ContainSubstring("nope"))
	})

	It("fails pending hooks with PodDeleted when the pod is deleted, and PodTerminated when it completes", func() {
		restore := newRestore()
		gone := newPod(ns, "gone", restore, []string{"main"}, nil)
		done := newPod(ns, "done", restore, []string{"main"}, nil)
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "x")))
		Eventually(recordPhases(run)).Should(HaveLen(2))
		Expect(k8sClient.Delete(ctx, gone, client.GracePeriodSeconds(0))).To(Succeed())
		setPodPhase(done, corev1.PodSucceeded)
		Eventually(recordPhases(run)).Should(ConsistOf("gone/main:0=Failed(PodDeleted)", "done/main:0=Failed(PodTerminated)"))
		Expect(callsIn(fake, ns)).To(BeEmpty())
	})

	It("retries a failing hook and counts attempts", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		fake.SetResults(exec.Key(ns, "db", "main", "flaky"), exec.ExitResult(1), exec.ErrorResult(errors.New("stream reset")), exec.Result{})
		h := execHook("main", "flaky")
		h.Retries = ptr.To[int32](2)
		h.RetryDelay = &metav1.Duration{Duration: 200 * time.Millisecond}
		run := newRun(ns, restore, nil, execSpec("h", h))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run), 10*time.Second).Should(Equal([]string{"db/main:0=Succeeded"}))
		Expect(getRun(run).Status.Hooks[0].Attempts).To(BeEquivalentTo(3))
		Expect(callsIn(fake, ns)).To(HaveLen(3))
	})

	It("after a restart never re-runs finished hooks and marks the in-flight one Interrupted", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		release := fake.Block(exec.Key(ns, "db", "main", "second"))
		defer release()
		run := newRun(ns, restore, nil, execSpec("h",
			execHook("main", "first"), execHook("main", "second"), execHook("main", "third")))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{
			"db/main:0=Succeeded", "db/main:1=Running", "db/main:2=Pending"}))
		// The second command is in flight (sent, blocked in the container) when the operator stops. Seeing
		// its Running record is not enough: stopping between the write landing and its answer reaching the
		// manager makes the manager hold the command back (it cannot tell the write landed), which a loaded
		// machine hits now and then.
		Eventually(func() []string { return callsIn(fake, ns) }).Should(Equal([]string{"db/main:first", "db/main:second"}))

		op.stop()
		fake2 := &exec.Fake{}
		op = startOperator(fake2)
		Eventually(recordPhases(run)).Should(Equal([]string{
			"db/main:0=Succeeded", "db/main:1=Failed(Interrupted)", "db/main:2=Succeeded"}))
		Expect(callsIn(fake2, ns)).To(Equal([]string{"db/main:third"}), "only the hook that never ran is sent after the restart")
		Expect(callsIn(fake, ns)).To(Equal([]string{"db/main:first", "db/main:second"}))
	})

	It("stays Pending until the Restore exists, then follows its phase", func() {
		restore := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "late-" + ns}}
		run := newRun(ns, restore, nil, execSpec("h", execHook("", "x")))
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhasePending))
		Consistently(runPhase(run), 300*time.Millisecond).Should(Equal(v1alpha1.RunPhasePending))

		restore.Spec.BackupName = "b1"
		Expect(k8sClient.Create(ctx, restore)).To(Succeed())
		setRestorePhase(restore, velerov1.RestorePhaseNew)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseRunning))
		Eventually(func() string { return getRun(run).Status.RestorePhase }).Should(Equal("New"))
		setRestorePhase(restore, velerov1.RestorePhaseInProgress)
		Eventually(func() string { return getRun(run).Status.RestorePhase }).Should(Equal("InProgress"))
		Expect(runPhase(run)()).To(Equal(v1alpha1.RunPhaseRunning))
		setRestorePhase(restore, velerov1.RestorePhaseCompleted)
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseCompleted), "no pods, no hooks: nothing failed")
	})

	It("fails the run when the Restore never appears within maxWait", func() {
		restore := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "never-" + ns}}
		run := newRun(ns, restore, func(s *v1alpha1.RestoreHookRunSpec) {
			s.MaxWait = &metav1.Duration{Duration: 2 * time.Second}
		})
		Eventually(runPhase(run), 10*time.Second).Should(Equal(v1alpha1.RunPhaseFailed))
		c := meta.FindStatusCondition(getRun(run).Status.Conditions, v1alpha1.ConditionDegraded)
		Expect(c.Reason).To(Equal(v1alpha1.ConditionReasonRestoreNotFound))
		Eventually(eventReasons(run)).Should(ContainElement("RunFailed"))
	})

	It("fails the run when the Restore is deleted mid-run, skipping hooks not started", func() {
		restore := newRestore()
		newPod(ns, "db", restore, []string{"main"}, nil)
		run := newRun(ns, restore, nil, execSpec("h", execHook("main", "x")))
		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Waiting"}))
		Expect(k8sClient.Delete(ctx, restore)).To(Succeed())
		Eventually(runPhase(run)).Should(Equal(v1alpha1.RunPhaseFailed))
		Expect(recordPhases(run)()).To(Equal([]string{"db/main:0=Skipped(RestoreDeleted)"}))
		c := meta.FindStatusCondition(getRun(run).Status.Conditions, v1alpha1.ConditionDegraded)
		Expect(c.Reason).To(Equal(v1alpha1.ConditionReasonRestoreDeleted))
	})

	It("runs pods in parallel up to maxConcurrentPods", func() {
		restore := newRestore()
		var releases []func()
		for _, name := range []string{"p1", "p2", "p3"} {
			p := newPod(ns, name, restore, []string{"main"}, nil)
			setRunning(p, false, "main")
			releases = append(releases, fake.Block(exec.Key(ns, name, "main", "x")))
		}
		defer func() {
			for _, r := range releases {
				r()
			}
		}()
		run := newRun(ns, restore, func(s *v1alpha1.RestoreHookRunSpec) { s.MaxConcurrentPods = 2 },
			execSpec("h", execHook("main", "x")))
		Eventually(func() []string { return callsIn(fake, ns) }).Should(HaveLen(2))
		Consistently(func() []string { return callsIn(fake, ns) }, 300*time.Millisecond).Should(HaveLen(2))
		for _, r := range releases {
			r()
		}
		Eventually(recordPhases(run)).Should(Equal([]string{"p1/main:0=Succeeded", "p2/main:0=Succeeded", "p3/main:0=Succeeded"}))
	})

	It("dispatches hooks beyond the exec streams to a queue, and an abort takes the queued ones back unsent", func() {
		op.stop()
		op = startOperatorWith(fake, func(o *operator.Options) { o.MaxConcurrentExecs, o.MaxQueuedExecs = 1, 8 })
		restore := newRestore()
		names := []string{"p1", "p2", "p3", "p4"}
		var releases []func()
		for _, name := range names {
			p := newPod(ns, name, restore, []string{"main"}, nil)
			setRunning(p, false, "main")
			fake.SetResults(exec.Key(ns, name, "main", "x"), exec.ExitResult(1))
			releases = append(releases, fake.Block(exec.Key(ns, name, "main", "x")))
		}
		defer func() {
			for _, r := range releases {
				r()
			}
		}()
		failing := execHook("main", "x")
		failing.OnError = v1alpha1.HookErrorModeFail
		run := newRun(ns, restore, nil, execSpec("h", failing))

		// One status write dispatched all four (recorded Running); one stream, so one command is sent.
		Eventually(recordPhases(run)).Should(Equal([]string{
			"p1/main:0=Running", "p2/main:0=Running", "p3/main:0=Running", "p4/main:0=Running"}))
		Eventually(func() []string { return callsIn(fake, ns) }).Should(HaveLen(1))
		Consistently(func() []string { return callsIn(fake, ns) }, 300*time.Millisecond).Should(HaveLen(1))

		// It fails under onError Fail: the three still queued are never sent, and end Skipped.
		for _, r := range releases {
			r()
		}
		Eventually(func() []string {
			var skipped []string
			for _, r := range getRun(run).Status.Hooks {
				if r.Phase == v1alpha1.HookPhaseSkipped && r.Reason == v1alpha1.ReasonAbortedByFailPolicy && r.Attempts == 0 {
					skipped = append(skipped, r.Pod)
				}
			}
			return skipped
		}).Should(HaveLen(3))
		Expect(callsIn(fake, ns)).To(HaveLen(1))
		Expect(getRun(run).Status.HooksFailed).To(BeEquivalentTo(1))
	})

	It("never execs outside the run's namespace, even when admission let the run through (Forbidden)", func() {
		// This suite installs no webhooks: the run below is what a cluster without the validating webhook
		// would admit.
		restore := newRestore()
		other := newNamespace("elsewhere")
		victim := newPod(other, "victim", restore, []string{"main"}, nil)
		setRunning(victim, false, "main")
		own := newPod(ns, "own", restore, []string{"main"}, nil)
		setRunning(own, false, "main")
		run := newRun(ns, restore, nil, v1alpha1.RestoreResourceHookSpec{Name: "h",
			IncludedNamespaces: []string{ns, other},
			PostHooks:          []v1alpha1.RestoreResourceHook{{Exec: execHook("main", "x")}}})
		Eventually(recordPhases(run)).Should(ConsistOf("own/main:0=Succeeded", "victim/main:0=Failed(Forbidden)"))
		Expect(callsIn(fake, other)).To(BeEmpty())
	})

	It("keeps no output when recordOutput is false", func() {
		restore := newRestore()
		pod := newPod(ns, "db", restore, []string{"main"}, nil)
		fake.SetResults(exec.Key(ns, "db", "main", "loud"), exec.Result{Stdout: "secret", Stderr: "noise"})
		run := newRun(ns, restore, func(s *v1alpha1.RestoreHookRunSpec) { s.RecordOutput = ptr.To(false) },
			execSpec("h", execHook("main", "loud")))
		setRunning(pod, false, "main")
		Eventually(recordPhases(run)).Should(Equal([]string{"db/main:0=Succeeded"}))
		rec := getRun(run).Status.Hooks[0]
		Expect(rec.Stdout).To(BeEmpty())
		Expect(rec.Stderr).To(BeEmpty())
	})
})

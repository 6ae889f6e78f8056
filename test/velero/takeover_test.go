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

package velero

import (
	"encoding/json"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/hook"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// SPEC §9 with Velero's own server in the loop: every hook runs exactly once.
var _ = Describe("Next to a real Velero server", func() {
	// annotatedApp is a pod with an annotation exec hook and an annotation init hook that append to files,
	// and a second pod that a spec hook of the run selects.
	type app struct {
		ns, execFile, specFile string
	}
	newApp := func() app {
		dir := hookDir()
		a := app{ns: newNamespace(), execFile: filepath.Join(dir, "exec-hook"), specFile: filepath.Join(dir, "spec-hook")}
		cmd, err := json.Marshal([]string{"/bin/sh", "-c", "echo ran >> " + a.execFile})
		Expect(err).NotTo(HaveOccurred())
		runningPod(appPod(a.ns, "legacy", map[string]string{
			hook.ExecContainerAnnotation:      "app",
			hook.ExecCommandAnnotation:        string(cmd),
			hook.InitContainerImageAnnotation: "busybox",
			hook.InitContainerNameAnnotation:  "restore-init",
			hook.InitCommandAnnotation:        `["/bin/sh", "-c", "echo init"]`,
		}, "app"))
		runningPod(appPod(a.ns, "db", nil, "db"))
		return a
	}
	hooksFor := func(a app) v1alpha1.RestoreHooks {
		return v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{
			Name: "db-load", IncludedNamespaces: []string{a.ns},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{
				Container: "db", Command: []string{"/bin/sh", "-c", "echo ran >> " + a.specFile}}}},
		}}}
	}
	runFor := func(restoreName string, a app) *v1alpha1.RestoreHookRun {
		run := &v1alpha1.RestoreHookRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "hooks-" + restoreName},
			Spec:       v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: restoreName}, Hooks: hooksFor(a)},
		}
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		return run
	}
	runStatus := func(run *v1alpha1.RestoreHookRun) func() v1alpha1.RestoreHookRunStatus {
		return func() v1alpha1.RestoreHookRunStatus {
			var got v1alpha1.RestoreHookRun
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), &got)).To(Succeed())
			return got.Status
		}
	}
	recordOf := func(st v1alpha1.RestoreHookRunStatus, pod, hookName string, typ v1alpha1.HookType) *v1alpha1.HookRecord {
		for i := range st.Hooks {
			if r := &st.Hooks[i]; r.Pod == pod && r.Hook == hookName && r.Type == typ {
				return r
			}
		}
		return nil
	}

	It("runs every hook exactly once, by this operator, and gives Velero its annotations back", func() {
		a := newApp()
		b := backup(a.ns)
		deleteNamespace(a.ns)
		name := newRestoreName()
		run := runFor(name, a) // declared before the restore, as the README says
		r := restore(name, b, a.ns)
		Expect(r.Status.Phase).To(Equal(velerov1.RestorePhaseCompleted), localcluster.RestoreSummary(r))

		Eventually(func() v1alpha1.RunPhase { return runStatus(run)().Phase }, 2*time.Minute).Should(Equal(v1alpha1.RunPhaseCompleted))
		st := runStatus(run)()
		annotationRec := recordOf(st, a.ns+"/legacy", v1alpha1.AnnotationHookName, v1alpha1.HookTypeExec)
		Expect(annotationRec).NotTo(BeNil(), "records: %+v", st.Hooks)
		Expect(annotationRec.Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect(annotationRec.Attempts).To(Equal(int32(1)))
		Expect(recordOf(st, a.ns+"/db", "db-load", v1alpha1.HookTypeExec).Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		initRec := recordOf(st, a.ns+"/legacy", v1alpha1.AnnotationHookName, v1alpha1.HookTypeInit)
		Expect(initRec).NotTo(BeNil(), "records: %+v", st.Hooks)
		Expect(initRec.Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect([]int32{st.HooksFailed, st.HooksSkipped}).To(Equal([]int32{0, 0}))

		By("exactly once: the files the commands append to, and Velero's own counters")
		Expect(lines(a.execFile)).To(Equal([]string{"ran"}))
		Expect(lines(a.specFile)).To(Equal([]string{"ran"}))
		Expect(hooksAttempted(r)).To(BeZero(), "Velero's server ran a hook this operator took over")
		Expect(veleroExecHookRuns(name, a.ns, "legacy")).To(BeEmpty())
		pod := restoredPodRunning(a.ns, "legacy")
		Expect(initContainerNames(pod)).To(Equal([]string{"restore-init"}), "the init hook was injected once")
		Consistently(fileLines(a.execFile), "2s").Should(Equal([]string{"ran"}))

		By("the restored pod carries Velero's declaration again, for the next backup")
		Eventually(func() map[string]string {
			var got corev1.Pod
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &got)).To(Succeed())
			return got.Annotations
		}).Should(And(HaveKey(hook.ExecCommandAnnotation), HaveKeyWithValue(hook.ExecContainerAnnotation, "app"),
			HaveKeyWithValue(hook.HooksDoneAnnotation, veleroNS+"/"+run.Name), Not(HaveKey(hook.PostHookAnnotation))))
	})

	It("leaves the hook to Velero when the pod webhook is down, records RunByVelero, and nothing runs twice", func() {
		a := newApp()
		b := backup(a.ns)
		deleteNamespace(a.ns)

		// The pod webhook unreachable (failurePolicy Ignore): pods are created unchanged.
		var cfgs admissionregistrationv1.MutatingWebhookConfigurationList
		Expect(k8sClient.List(ctx, &cfgs)).To(Succeed())
		var saved *admissionregistrationv1.MutatingWebhookConfiguration
		for i := range cfgs.Items {
			for j, w := range cfgs.Items[i].Webhooks {
				if w.Name == localcluster.PodWebhookName {
					saved = cfgs.Items[i].DeepCopy()
					broken := cfgs.Items[i].DeepCopy()
					broken.Webhooks[j].ClientConfig = admissionregistrationv1.WebhookClientConfig{
						URL: ptr.To("https://127.0.0.1:1/mutate-pod"), CABundle: w.ClientConfig.CABundle}
					Expect(k8sClient.Update(ctx, broken)).To(Succeed())
				}
			}
		}
		Expect(saved).NotTo(BeNil(), "no pod webhook configuration %s", localcluster.PodWebhookName)
		DeferCleanup(func() {
			var cur admissionregistrationv1.MutatingWebhookConfiguration
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(saved), &cur)).To(Succeed())
			cur.Webhooks = saved.Webhooks
			Expect(k8sClient.Update(ctx, &cur)).To(Succeed())
		})
		time.Sleep(time.Second) // the API server picks up webhook configurations asynchronously

		name := newRestoreName()
		run := runFor(name, a)
		r := restore(name, b, a.ns)
		Expect(r.Status.Phase).To(Equal(velerov1.RestorePhaseCompleted), localcluster.RestoreSummary(r))

		Eventually(func() v1alpha1.RunPhase { return runStatus(run)().Phase }, 2*time.Minute).Should(Equal(v1alpha1.RunPhaseCompleted))
		st := runStatus(run)()
		rec := recordOf(st, a.ns+"/legacy", v1alpha1.AnnotationHookName, v1alpha1.HookTypeExec)
		Expect(rec).NotTo(BeNil(), "records: %+v", st.Hooks)
		Expect(rec.Phase).To(Equal(v1alpha1.HookPhaseSkipped))
		Expect(rec.Reason).To(Equal(v1alpha1.ReasonRunByVelero))
		Expect(rec.Message).To(ContainSubstring("Velero's server runs this annotation hook"))
		Expect(st.HooksFailed).To(BeZero())

		By("Velero ran it, once; this operator ran only its spec hook")
		Expect(hooksAttempted(r)).To(Equal(1))
		Expect(lines(a.execFile)).To(Equal([]string{"ran"}))
		Expect(lines(a.specFile)).To(Equal([]string{"ran"}))
		Consistently(fileLines(a.execFile), "2s").Should(Equal([]string{"ran"}))
	})

	// SPEC §10 with Velero in the loop: `velero restore create --from-schedule nightly` with a policy
	// declared once, and no RestoreHookRun written by anyone.
	It("gives a Restore from a schedule exactly one run through a RestoreHookPolicy, and runs its hooks once", func() {
		a := newApp()
		schedule := "nightly-" + a.ns
		// A Backup the way Velero's schedule controller makes it: labelled with the schedule's name.
		bk := velero.NewBackup(schedule+"-20261204", a.ns)
		bk.Labels = map[string]string{velerov1.ScheduleNameLabel: schedule}
		Expect(k8sClient.Create(ctx, bk)).To(Succeed())
		b, err := velero.WaitBackup(ctx, bk.Name, 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Status.Phase).To(Equal(velerov1.BackupPhaseCompleted))
		deleteNamespace(a.ns)

		p := &v1alpha1.RestoreHookPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "dr"},
			Spec: v1alpha1.RestoreHookPolicySpec{
				RestoreSelector: v1alpha1.RestoreSelector{ScheduleNames: []string{schedule}},
				Template: v1alpha1.RestoreHookRunTemplate{Spec: v1alpha1.RestoreHookRunTemplateSpec{
					Hooks: hooksFor(a)}},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p))).To(Succeed()) })
		time.Sleep(1100 * time.Millisecond) // Restores created after the policy, to the second

		name := newRestoreName()
		r, err := velero.Restore(ctx, &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: velerov1.RestoreSpec{ScheduleName: schedule, IncludedNamespaces: []string{a.ns}}}, 3*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Status.Phase).To(Equal(velerov1.RestorePhaseCompleted), localcluster.RestoreSummary(r))
		Expect(r.Spec.BackupName).To(Equal(b.Name), "Velero resolved the schedule to its latest backup")

		run := &v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: name + "-dr"}}
		Eventually(func() v1alpha1.RunPhase { return runStatus(run)().Phase }, 2*time.Minute).Should(Equal(v1alpha1.RunPhaseCompleted))
		var runs v1alpha1.RestoreHookRunList
		Expect(k8sClient.List(ctx, &runs, client.InNamespace(veleroNS), client.MatchingLabels{"hooks.restorehooks.io/policy": "dr"})).To(Succeed())
		Expect(runs.Items).To(HaveLen(1), "exactly one run for the Restore")
		st := runStatus(run)()
		Expect(recordOf(st, a.ns+"/legacy", v1alpha1.AnnotationHookName, v1alpha1.HookTypeExec).Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect(recordOf(st, a.ns+"/db", "db-load", v1alpha1.HookTypeExec).Phase).To(Equal(v1alpha1.HookPhaseSucceeded))
		Expect(lines(a.execFile)).To(Equal([]string{"ran"}))
		Expect(lines(a.specFile)).To(Equal([]string{"ran"}))
		Expect(hooksAttempted(r)).To(BeZero())
	})
})

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
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
	"github.com/restorehooks/restore-hook-operator/operator"
)

// policyFixture is a policy whose selector matches only the Restores made by its own helpers (a unique
// label), so that specs sharing the Velero namespace never see each other's Restores.
type policyFixture struct {
	ns    string
	label string
	p     *v1alpha1.RestoreHookPolicy
}

func newPolicyFixture(ns string, mutate func(*v1alpha1.RestoreHookPolicy)) *policyFixture {
	f := &policyFixture{ns: ns, label: "t-" + rand.String(6)}
	f.p = &v1alpha1.RestoreHookPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dr-" + rand.String(4)},
		Spec: v1alpha1.RestoreHookPolicySpec{
			RestoreSelector: v1alpha1.RestoreSelector{MatchLabels: map[string]string{"policy-test": f.label}},
			Template: v1alpha1.RestoreHookRunTemplate{
				Metadata: v1alpha1.RestoreHookRunTemplateMetadata{Labels: map[string]string{"team": "db"}},
				Spec: v1alpha1.RestoreHookRunTemplateSpec{Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{
					execSpec("load", execHook("main", "load")),
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(f.p)
	}
	return f
}

func (f *policyFixture) create() {
	Expect(k8sClient.Create(ctx, f.p)).To(Succeed())
}

// restore creates a Restore the policy matches (matching false: one it does not), in phase.
func (f *policyFixture) restore(name string, matching bool, phase velerov1.RestorePhase) *velerov1.Restore {
	lbl := f.label
	if !matching {
		lbl = "other"
	}
	r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: name + "-" + f.label,
		Labels: map[string]string{"policy-test": lbl}}, Spec: velerov1.RestoreSpec{BackupName: "b1"}}
	Expect(k8sClient.Create(ctx, r)).To(Succeed())
	setRestorePhase(r, phase)
	return r
}

// runs returns the names of the runs in the fixture's namespace, sorted.
func (f *policyFixture) runs() []string {
	var list v1alpha1.RestoreHookRunList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(f.ns))).To(Succeed())
	var out []string
	for _, r := range list.Items {
		if r.DeletionTimestamp == nil {
			out = append(out, r.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (f *policyFixture) runsFunc() func() []string { return f.runs }

func (f *policyFixture) get() *v1alpha1.RestoreHookPolicy {
	out := &v1alpha1.RestoreHookPolicy{}
	Expect(k8sClient.Get(ctx, clientKey(f.p), out)).To(Succeed())
	return out
}

func (f *policyFixture) runName(r *velerov1.Restore) string { return policy.RunName(r.Name, f.p.Name) }

func (f *policyFixture) runsCreated() func() int32 {
	return func() int32 { return f.get().Status.RunsCreated }
}

func sorted(names ...string) []string {
	sort.Strings(names)
	return names
}

// nextSecond waits until the wall clock is in a later second than t: creation timestamps have
// one-second precision, and a Restore created in the policy's own second counts as created after it.
func nextSecond(t time.Time) {
	time.Sleep(time.Until(t.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
}

var _ = Describe("RestoreHookPolicy reconciler", func() {
	var ns string
	BeforeEach(func() {
		ensureVeleroNamespace()
		ns = newNamespace("policy")
	})

	It("gives each matching Restore created after it exactly one run, and leaves older ones alone", func() {
		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, nil)
		old := f.restore("old", true, velerov1.RestorePhaseCompleted)
		nextSecond(time.Now())
		f.create()
		Expect(f.get().CreationTimestamp.After(old.CreationTimestamp.Time)).To(BeTrue())

		r1 := f.restore("r1", true, velerov1.RestorePhaseInProgress)
		f.restore("web", false, velerov1.RestorePhaseInProgress)
		Eventually(f.runsFunc()).Should(Equal([]string{f.runName(r1)}))

		run := &v1alpha1.RestoreHookRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: f.runName(r1)}, run)).To(Succeed())
		Expect(run.Spec.RestoreRef).To(Equal(v1alpha1.RestoreReference{Name: r1.Name, Namespace: veleroNS}))
		Expect(run.Spec.Hooks).To(Equal(f.p.Spec.Template.Spec.Hooks))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.PolicyLabel, f.p.Name))
		Expect(run.Labels).To(HaveKeyWithValue(v1alpha1.RestoreUIDLabel, string(r1.UID)))
		Expect(run.Labels).To(HaveKeyWithValue("team", "db"))
		owner := metav1.GetControllerOf(run)
		Expect(owner).NotTo(BeNil())
		Expect(owner.Kind).To(Equal("RestoreHookPolicy"))
		Expect(owner.UID).To(Equal(f.get().UID))

		Eventually(f.runsCreated()).Should(BeEquivalentTo(1))
		st := f.get().Status
		Expect(st.RestoresLeftAlone).To(BeEquivalentTo(1))
		Expect(st.ObservedGeneration).To(Equal(f.get().Generation))
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		Expect(ready).NotTo(BeNil())
		Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		Expect(ready.Reason).To(Equal(v1alpha1.PolicyReasonActive))
		Expect(ready.Message).To(ContainSubstring("1 matching Restore created before the policy was left alone"))
		Expect(st.LastRun).NotTo(BeNil())
		Expect(st.LastRun.Name).To(Equal(f.runName(r1)))
		Expect(st.LastRun.Restore).To(Equal(veleroNS + "/" + r1.Name))
		Eventually(eventReasons(f.p)).Should(ContainElement("RunCreated"))

		By("a Restore that is updated and relabelled gets no second run")
		Eventually(func() error {
			if err := k8sClient.Get(ctx, clientKey(r1), r1); err != nil {
				return err
			}
			r1.Labels["extra"] = "x"
			r1.Spec.IncludedNamespaces = []string{"app"}
			return k8sClient.Update(ctx, r1)
		}).Should(Succeed())
		Consistently(f.runsFunc(), 2*time.Second).Should(Equal([]string{f.runName(r1)}))

		By("lastRun follows the run's phase")
		setRestorePhase(r1, velerov1.RestorePhaseCompleted)
		Eventually(func() v1alpha1.RunPhase { return f.get().Status.LastRun.Phase }).Should(Equal(v1alpha1.RunPhaseCompleted))
		Expect(f.get().Status.RunsCreated).To(BeEquivalentTo(1))
	})

	It("makes exactly one run per Restore across manager restarts, including Restores made while it was down", func() {
		f := newPolicyFixture(ns, nil)
		op := startOperator(&exec.Fake{})
		f.create()
		a := f.restore("a", true, velerov1.RestorePhaseInProgress)
		Eventually(f.runsFunc()).Should(Equal([]string{f.runName(a)}))
		op.stop()

		// Made while no operator runs: one already finished, one still in progress.
		b := f.restore("b", true, velerov1.RestorePhaseCompleted)
		c := f.restore("c", true, velerov1.RestorePhaseInProgress)
		op = startOperator(&exec.Fake{})
		want := sorted(f.runName(a), f.runName(b), f.runName(c))
		Eventually(f.runsFunc()).Should(Equal(want))
		Eventually(f.runsCreated()).Should(BeEquivalentTo(3))
		op.stop()

		op = startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		Consistently(f.runsFunc(), 2*time.Second).Should(Equal(want))
		Expect(f.get().Status.RunsCreated).To(BeEquivalentTo(3))
	})

	It("after a crash between recording a run and creating it, or between creating it and seeing it, makes that run once", func() {
		f := newPolicyFixture(ns, nil)
		f.create()
		created := f.restore("created", true, velerov1.RestorePhaseInProgress)
		notCreated := f.restore("notcreated", true, velerov1.RestorePhaseInProgress)
		// What a pass that crashed would leave: both runs recorded pending, one of them created.
		p := f.get()
		p.Status.PendingRuns = []v1alpha1.PendingRun{
			{Name: f.runName(created), Restore: created.Name, RestoreUID: created.UID},
			{Name: f.runName(notCreated), Restore: notCreated.Name, RestoreUID: notCreated.UID},
		}
		Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
		Expect(k8sClient.Create(ctx, policy.NewRun(p, p.Status.PendingRuns[0], veleroNS))).To(Succeed())

		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		want := sorted(f.runName(created), f.runName(notCreated))
		Eventually(f.runsFunc()).Should(Equal(want))
		Eventually(f.runsCreated()).Should(BeEquivalentTo(2))
		Eventually(func() []v1alpha1.PendingRun { return f.get().Status.PendingRuns }).Should(BeEmpty())
		Expect(f.get().Status.HandledRestores).To(ConsistOf(created.UID, notCreated.UID))
		Consistently(f.runsFunc(), time.Second).Should(Equal(want))
	})

	It("makes one run per Restore when status writes conflict and run creations time out after landing", func() {
		var mu sync.Mutex
		conflicts, ambiguous := 0, 0
		wrap := func(c client.Client) client.Client {
			return interceptor.NewClient(withoutWatch{c}, interceptor.Funcs{
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
					if _, ok := obj.(*v1alpha1.RestoreHookPolicy); ok {
						mu.Lock()
						conflicts++
						odd := conflicts%2 == 1
						mu.Unlock()
						if odd {
							return apierrors.NewConflict(runsResource, obj.GetName(), errors.New("injected: the object has been modified"))
						}
					}
					return c.SubResource(sub).Update(ctx, obj, opts...)
				},
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if err := c.Create(ctx, obj, opts...); err != nil {
						return err
					}
					if _, ok := obj.(*v1alpha1.RestoreHookRun); ok {
						mu.Lock()
						ambiguous++
						mu.Unlock()
						return apierrors.NewTimeoutError("injected: the server was unable to return a response in the time allotted, but may still be processing the request", 1)
					}
					return nil
				},
			})
		}
		op := startOperatorWith(&exec.Fake{}, func(o *operator.Options) { o.WrapClient = wrap })
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, nil)
		f.create()
		var want []string
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			want = append(want, f.runName(f.restore(n, true, velerov1.RestorePhaseInProgress)))
		}
		sort.Strings(want)
		Eventually(f.runsFunc()).Should(Equal(want))
		Eventually(f.runsCreated()).Should(BeEquivalentTo(5))
		Consistently(f.runsFunc(), 2*time.Second).Should(Equal(want))
		mu.Lock()
		defer mu.Unlock()
		Expect(conflicts).To(BeNumerically(">", 1))
		Expect(ambiguous).To(BeNumerically(">=", 5), "every run creation reported a timeout")
		Eventually(eventReasons(f.p)).Should(ContainElement("RunCreationFailed"))
	})

	It("gives a Restore deleted and created again under its name a run of its own, under another name", func() {
		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, nil)
		f.create()
		r := f.restore("r", true, velerov1.RestorePhaseCompleted)
		Eventually(f.runsFunc()).Should(Equal([]string{f.runName(r)}))
		firstUID := r.UID
		Expect(k8sClient.Delete(ctx, r)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, clientKey(r), &velerov1.Restore{})) }).Should(BeTrue())

		again := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: r.Name, Labels: r.Labels},
			Spec: velerov1.RestoreSpec{BackupName: "b1"}}
		Expect(k8sClient.Create(ctx, again)).To(Succeed())
		alternate := policy.AlternateRunName(again.Name, f.p.Name, again.UID)
		Eventually(f.runsFunc()).Should(Equal(sorted(f.runName(r), alternate)))
		run := &v1alpha1.RestoreHookRun{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: alternate}, run)).To(Succeed())
		Expect(run.Labels[v1alpha1.RestoreUIDLabel]).To(Equal(string(again.UID)))
		Expect(again.UID).NotTo(Equal(firstUID))
		Consistently(f.runsFunc(), time.Second).Should(HaveLen(2))
	})

	It("keeps at most runsHistoryLimit finished runs, deleting the oldest finished first, never an unfinished one", func() {
		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, func(p *v1alpha1.RestoreHookPolicy) { p.Spec.RunsHistoryLimit = ptr.To[int32](1) })
		f.create()
		running := f.restore("running", true, velerov1.RestorePhaseInProgress)
		var finished []*velerov1.Restore
		for _, n := range []string{"a", "b", "c"} {
			r := f.restore(n, true, velerov1.RestorePhaseCompleted)
			finished = append(finished, r)
			Eventually(runPhase(&v1alpha1.RestoreHookRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: f.runName(r)}})).
				Should(Equal(v1alpha1.RunPhaseCompleted))
		}
		want := sorted(f.runName(running), f.runName(finished[2]))
		Eventually(f.runsFunc()).Should(Equal(want))
		Consistently(f.runsFunc(), 2*time.Second).Should(Equal(want), "pruned runs are not made again")
		Expect(f.get().Status.RunsCreated).To(BeEquivalentTo(4))
		Eventually(eventReasons(f.p)).Should(ContainElement("RunPruned"))
	})

	It("creates no run while suspended, keeps the existing ones, and catches up when resumed", func() {
		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, func(p *v1alpha1.RestoreHookPolicy) { p.Spec.RunsHistoryLimit = ptr.To[int32](0) })
		f.create()
		first := f.restore("first", true, velerov1.RestorePhaseInProgress)
		Eventually(f.runsFunc()).Should(Equal([]string{f.runName(first)}))

		Eventually(func() error {
			p := f.get()
			p.Spec.Suspend = true
			return k8sClient.Update(ctx, p)
		}).Should(Succeed())
		Eventually(func() string {
			c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.ConditionReady)
			if c == nil {
				return ""
			}
			return c.Reason
		}).Should(Equal(v1alpha1.PolicyReasonSuspended))
		setRestorePhase(first, velerov1.RestorePhaseCompleted) // finished: limit 0 would delete it, but not while suspended
		during := f.restore("during", true, velerov1.RestorePhaseInProgress)
		Consistently(f.runsFunc(), 2*time.Second).Should(Equal([]string{f.runName(first)}))

		Eventually(func() error {
			p := f.get()
			p.Spec.Suspend = false
			return k8sClient.Update(ctx, p)
		}).Should(Succeed())
		Eventually(f.runsFunc()).Should(Equal([]string{f.runName(during)}), "the finished run is pruned, the new Restore gets its run")
	})

	It("says in Ready why it creates no run when its template reaches beyond its namespace", func() {
		op := startOperator(&exec.Fake{})
		DeferCleanup(op.stop)
		f := newPolicyFixture(ns, func(p *v1alpha1.RestoreHookPolicy) {
			p.Spec.Template.Spec.Hooks.Resources[0].IncludedNamespaces = []string{"prod"}
		})
		f.create() // no webhooks in this suite: the reconciler is the second line of defence
		f.restore("r", true, velerov1.RestorePhaseInProgress)
		Eventually(func() string {
			c := meta.FindStatusCondition(f.get().Status.Conditions, v1alpha1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionFalse {
				return ""
			}
			return c.Reason + ": " + c.Message
		}).Should(And(HavePrefix(v1alpha1.PolicyReasonInvalidTemplate), ContainSubstring(`its template names "prod"`)))
		Consistently(f.runsFunc(), time.Second).Should(BeEmpty())
	})
})

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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/policy"
)

var managePolicies = rbacv1.PolicyRule{APIGroups: []string{"hooks.restorehooks.io"}, Resources: []string{"restorehookpolicies"},
	Verbs: []string{"create", "update", "get", "patch"}}

// userPolicy returns (uncreated) a policy in namespace matching Restores labelled policy-test=<label>,
// whose template execs in the given namespaces with pod annotations ignored.
func userPolicy(namespace, label string, includes ...string) *v1alpha1.RestoreHookPolicy {
	return &v1alpha1.RestoreHookPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "dr-" + rand.String(5)},
		Spec: v1alpha1.RestoreHookPolicySpec{
			RestoreSelector: v1alpha1.RestoreSelector{MatchLabels: map[string]string{"policy-test": label}},
			Template: v1alpha1.RestoreHookRunTemplate{Spec: v1alpha1.RestoreHookRunTemplateSpec{
				PodAnnotations: v1alpha1.PodAnnotationsIgnore,
				Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{{Name: "h", IncludedNamespaces: includes,
					PostHooks: []v1alpha1.RestoreResourceHook{{Exec: &v1alpha1.ExecRestoreHook{Command: []string{"true"}}}}}}},
			}},
		},
	}
}

var _ = Describe("RestoreHookPolicy webhooks", func() {
	It("denies an author without pods/exec where the template reaches, naming the namespace", func() {
		ns := newNamespace()
		bob := asUser("bob-"+rand.String(4), ns, managePolicies)
		err := bob.Create(ctx, userPolicy(ns, "x", ns))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not create pods/exec"))
		Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("in namespace %q", ns)))
		Expect(err.Error()).To(ContainSubstring("RestoreHookPolicy"))
	})

	It("asks for cluster-wide pods/exec when an admin-namespace template honours pod annotations", func() {
		carol := asUser("carol-"+rand.String(4), veleroNS, managePolicies, execPods)
		p := userPolicy(veleroNS, "x", veleroNS)
		p.Spec.Template.Spec.PodAnnotations = v1alpha1.PodAnnotationsHonor
		err := carol.Create(ctx, p)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("cluster-wide"))
		Expect(carol.Create(ctx, userPolicy(veleroNS, "x", veleroNS))).To(Succeed(), "limited to a namespace she may exec in")
	})

	It("rejects bad selectors and templates with the field and value, and what CEL checks", func() {
		ns := newNamespace()
		p := userPolicy(ns, "x", ns, "prod")
		p.Spec.RestoreSelector.BackupNames = []string{"nightly-[0-9"}
		p.Spec.Template.Spec.Hooks.Resources[0].ExcludedNamespaces = []string{"[unclosed"}
		p.Spec.Template.Metadata.Annotations = map[string]string{v1alpha1.AuthoredByAnnotation: "root"}
		err := k8sClient.Create(ctx, p)
		Expect(err).To(HaveOccurred())
		msg := err.Error()
		Expect(msg).To(ContainSubstring(`spec.restoreSelector.backupNames[0]: Invalid value: "nightly-[0-9"`))
		Expect(msg).To(ContainSubstring(`its template names "prod"`))
		Expect(msg).To(ContainSubstring(`spec.template.spec.hooks.resources[0].excludedNamespaces[0]: Invalid value: "[unclosed"`))
		Expect(msg).To(ContainSubstring("spec.template.metadata.annotations[hooks.restorehooks.io/authored-by]"))

		p = userPolicy(ns, "x", ns)
		p.Spec.Template.Spec.RestoreRef = &v1alpha1.RestoreReference{Name: "r1"}
		err = k8sClient.Create(ctx, p)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("must not set restoreRef"))

		p = userPolicy(ns, "x", ns)
		p.Spec.RunsHistoryLimit = ptr.To[int32](-1)
		err = k8sClient.Create(ctx, p)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("runsHistoryLimit must be between 0 and 1000"))

		p = userPolicy(ns, "x", ns)
		p.Spec.RestoreSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}
		err = k8sClient.Create(ctx, p)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("operator must be one of In, NotIn, Exists, DoesNotExist"))
	})

	It("records the author, keeps it across others' metadata edits, and its runs act on that authority", func() {
		ns := newNamespace()
		aliceName := "alice-" + rand.String(4)
		alice := asUser(aliceName, ns, managePolicies, execPods)
		label := "t-" + rand.String(5)
		p := userPolicy(ns, label, ns)
		p.Annotations = map[string]string{v1alpha1.AuthoredByAnnotation: "someone-else"}
		Expect(alice.Create(ctx, p)).To(Succeed())
		Expect(p.Annotations).To(HaveKeyWithValue(v1alpha1.AuthoredByAnnotation, aliceName), "the webhook records the requester")

		By("a metadata edit by someone else keeps the author")
		Eventually(func() error {
			cur := &v1alpha1.RestoreHookPolicy{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), cur); err != nil {
				return err
			}
			cur.Labels = map[string]string{"reviewed": "yes"}
			cur.Annotations[v1alpha1.AuthoredByAnnotation] = "forged"
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		cur := &v1alpha1.RestoreHookPolicy{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), cur)).To(Succeed())
		Expect(cur.Annotations).To(HaveKeyWithValue(v1alpha1.AuthoredByAnnotation, aliceName))

		By("the operator creates the run through the run webhook, on alice's authority")
		r := &velerov1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: veleroNS, Name: "r-" + rand.String(6),
			Labels: map[string]string{"policy-test": label}}, Spec: velerov1.RestoreSpec{BackupName: "b1"}}
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		run := &v1alpha1.RestoreHookRun{}
		Eventually(func() error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: policy.RunName(r.Name, p.Name)}, run)
		}, 20*time.Second).Should(Succeed())
		Expect(run.Annotations).To(HaveKeyWithValue(v1alpha1.AuthoredByAnnotation, aliceName))

		By("a user claiming the policy's ownership for a run of their own is checked as themselves")
		bob := asUser("bob-"+rand.String(4), ns, manageRuns)
		forged := userRun(ns, ns)
		forged.Spec.PodAnnotations = v1alpha1.PodAnnotationsIgnore
		forged.Spec.Hooks = p.Spec.Template.Spec.Hooks
		forged.Annotations = map[string]string{v1alpha1.AuthoredByAnnotation: aliceName}
		forged.OwnerReferences = run.OwnerReferences
		err := bob.Create(ctx, forged)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("may not create pods/exec"))
	})
})

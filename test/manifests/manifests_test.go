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

// Package manifests_test checks what `make deploy` installs: config/default rendered with kustomize's Go
// API (the same code as the pinned kustomize binary), then inspected for the properties SPEC §6-§8 and
// kubebuilder's layout promise, and server-side dry-run applied to a real kube-apiserver (envtest).
//
// Every check is a function returning the problems it found, so each one is also run against a broken
// copy of the manifests (mutationCases) to show that it can fail.
package manifests_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

const (
	namespace  = "restore-hook-operator-system"
	namePrefix = "restore-hook-operator-"

	webhookCertDir = "/tmp/k8s-webhook-server/serving-certs"
	podWebhookName = "mpod.restorehooks.io"
	runWebhookName = "vrestorehookrun.restorehooks.io"
	// The policy webhooks record a policy's author and check it (SPEC §10): they must not be skipped.
	policyAuthorWebhookName   = "mrestorehookpolicy.restorehooks.io"
	policyValidateWebhookName = "vrestorehookpolicy.restorehooks.io"
	restoreLabel              = "velero.io/restore-name"
	injectCAFrom              = "cert-manager.io/inject-ca-from"
	certManagerAPI            = "cert-manager.io/v1"
	certManagerName           = "cert-manager.io"
)

// Final (prefixed) names of the objects the checks look at.
var (
	deploymentName     = namePrefix + "controller-manager"
	serviceAccountName = namePrefix + "controller-manager"
	webhookServiceName = namePrefix + "webhook-service"
	metricsServiceName = namePrefix + "controller-manager-metrics-service"
	certificateName    = namePrefix + "serving-cert"
	issuerName         = namePrefix + "selfsigned-issuer"
	managerRoleName    = namePrefix + "manager-role"
	leaderRoleName     = namePrefix + "leader-election-role"
	metricsAuthRole    = namePrefix + "metrics-auth-role"
	mutatingName       = namePrefix + "mutating-webhook-configuration"
	validatingName     = namePrefix + "validating-webhook-configuration"
)

// render builds config/<dir> with kustomize's default options, as `kustomize build config/<dir>` does.
func render(dir string) ([]*unstructured.Unstructured, error) {
	path := filepath.Join(localcluster.RepoRoot(), "config", dir)
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), path)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", path, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		// Through JSON, so numbers are int64/float64 as unstructured.Unstructured expects.
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

var (
	renderDefault = sync.OnceValues(func() ([]*unstructured.Unstructured, error) { return render("default") })
	renderMonitor = sync.OnceValues(func() ([]*unstructured.Unstructured, error) { return render("prometheus") })
	renderSamples = sync.OnceValues(func() ([]*unstructured.Unstructured, error) { return render("samples") })
)

// rendered returns a private deep copy of a rendering, so a test may change it.
func rendered(t *testing.T, fn func() ([]*unstructured.Unstructured, error)) []*unstructured.Unstructured {
	t.Helper()
	objs, err := fn()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// typed converts the rendered object kind/name into T, rejecting fields T does not have (a typo in a
// manifest must not pass silently).
func typed[T any](objs []*unstructured.Unstructured, kind, name string) (*T, error) {
	u := find(objs, kind, name)
	if u == nil {
		return nil, fmt.Errorf("no %s %s rendered", kind, name)
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return out, nil
}

// problems collects what a check found wrong.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// clusterScoped lists the kinds rendered here that have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
}

// checkInventory: everything `make deploy` promises is rendered, each object once, namespaced ones in the
// operator's namespace, and every name carries the prefix (so two installs' objects never collide).
func checkInventory(objs []*unstructured.Unstructured) problems {
	var p problems
	want := [][2]string{
		{"Namespace", namespace},
		{"CustomResourceDefinition", "restorehookruns.hooks.restorehooks.io"},
		{"CustomResourceDefinition", "restorehookpolicies.hooks.restorehooks.io"},
		{"ServiceAccount", serviceAccountName},
		{"ClusterRole", managerRoleName},
		{"ClusterRoleBinding", namePrefix + "manager-rolebinding"},
		{"Role", leaderRoleName},
		{"RoleBinding", namePrefix + "leader-election-rolebinding"},
		{"ClusterRole", metricsAuthRole},
		{"ClusterRoleBinding", namePrefix + "metrics-auth-rolebinding"},
		{"ClusterRole", namePrefix + "metrics-reader"},
		{"ClusterRole", namePrefix + "restorehookrun-editor-role"},
		{"ClusterRole", namePrefix + "restorehookrun-viewer-role"},
		{"ClusterRole", namePrefix + "restorehookpolicy-editor-role"},
		{"ClusterRole", namePrefix + "restorehookpolicy-viewer-role"},
		{"Deployment", deploymentName},
		{"Service", webhookServiceName},
		{"Service", metricsServiceName},
		{"MutatingWebhookConfiguration", mutatingName},
		{"ValidatingWebhookConfiguration", validatingName},
		{"Certificate", certificateName},
		{"Issuer", issuerName},
	}
	for _, w := range want {
		if find(objs, w[0], w[1]) == nil {
			p.addf("missing %s %s", w[0], w[1])
		}
	}
	seen := map[string]bool{}
	for _, o := range objs {
		id := o.GetAPIVersion() + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if seen[id] {
			p.addf("%s rendered twice", id)
		}
		seen[id] = true
		switch {
		case o.GetKind() == "CustomResourceDefinition":
			// A CRD's name is fixed by its group and plural.
		case !strings.HasPrefix(o.GetName(), namePrefix):
			p.addf("%s %s: name lacks the prefix %q", o.GetKind(), o.GetName(), namePrefix)
		}
		switch ns := o.GetNamespace(); {
		case clusterScoped[o.GetKind()] && ns != "":
			p.addf("%s %s: cluster-scoped but has namespace %q", o.GetKind(), o.GetName(), ns)
		case !clusterScoped[o.GetKind()] && ns != namespace:
			p.addf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), ns, namespace)
		}
	}
	return p
}

// checkDeployment: the manager Deployment as SPEC §8 and the "restricted" Pod Security Standard want it.
func checkDeployment(objs []*unstructured.Unstructured) problems {
	var p problems
	d, err := typed[appsv1.Deployment](objs, "Deployment", deploymentName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	pod := d.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		p.addf("pod securityContext.runAsNonRoot is not true")
	}
	if psc := pod.SecurityContext; psc == nil || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.addf("pod securityContext.seccompProfile is not RuntimeDefault")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		p.addf("pod shares a host namespace")
	}
	if pod.ServiceAccountName != serviceAccountName {
		p.addf("serviceAccountName %q, want %q", pod.ServiceAccountName, serviceAccountName)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 10 {
		p.addf("terminationGracePeriodSeconds is not 10")
	}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil ||
		!sel.Matches(labels.Set(d.Spec.Template.Labels)) || d.Spec.Template.Labels["control-plane"] != "controller-manager" {
		p.addf("pod template labels %v: want control-plane=controller-manager, matched by the selector", d.Spec.Template.Labels)
	}
	if len(pod.Containers) != 1 {
		p.addf("%d containers, want 1 (manager)", len(pod.Containers))
		return p
	}
	c := pod.Containers[0]
	if c.Image != "controller:latest" {
		p.addf("image %q, want controller:latest (make deploy sets IMG)", c.Image)
	}
	if sc := c.SecurityContext; sc == nil {
		p.addf("container has no securityContext")
	} else {
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p.addf("container allowPrivilegeEscalation is not false")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			p.addf("container readOnlyRootFilesystem is not true")
		}
		if sc.Privileged != nil && *sc.Privileged {
			p.addf("container is privileged")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			p.addf("container capabilities do not drop ALL (or add some)")
		}
	}
	for _, arg := range []string{
		"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443",
		"--webhook-cert-path=" + webhookCertDir,
	} {
		if !slices.Contains(c.Args, arg) {
			p.addf("args %v lack %s", c.Args, arg)
		}
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if probe.p == nil || probe.p.HTTPGet == nil || probe.p.HTTPGet.Path != probe.path ||
			probe.p.HTTPGet.Port != intstr.FromInt32(8081) {
			p.addf("%s probe is not GET %s on 8081", probe.name, probe.path)
		}
	}
	for _, r := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
		want string
	}{
		{"requests", c.Resources.Requests, corev1.ResourceCPU, "100m"},
		{"requests", c.Resources.Requests, corev1.ResourceMemory, "64Mi"},
		{"limits", c.Resources.Limits, corev1.ResourceCPU, "500m"},
		{"limits", c.Resources.Limits, corev1.ResourceMemory, "256Mi"},
	} {
		if got, ok := r.list[r.name]; !ok || got.Cmp(resource.MustParse(r.want)) != 0 {
			p.addf("%s.%s is %v, want %s", r.what, r.name, r.list[r.name], r.want)
		}
	}
	if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == 9443 }) {
		p.addf("no containerPort 9443 for the webhook server")
	}
	// The serving certificate: the volume mounted at the cert dir comes from the Secret the Certificate fills.
	var certSecret string
	if cert := find(objs, "Certificate", certificateName); cert != nil {
		certSecret, _, _ = unstructured.NestedString(cert.Object, "spec", "secretName")
	}
	mountIdx := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == webhookCertDir })
	if mountIdx < 0 {
		p.addf("nothing mounted at %s", webhookCertDir)
	} else {
		m := c.VolumeMounts[mountIdx]
		volIdx := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if volIdx < 0 || pod.Volumes[volIdx].Secret == nil || pod.Volumes[volIdx].Secret.SecretName != certSecret || certSecret == "" {
			p.addf("volume %q at %s is not the Certificate's Secret %q", m.Name, webhookCertDir, certSecret)
		}
		if !m.ReadOnly {
			p.addf("certificate mount is not read-only")
		}
	}
	// The Services in front of the manager select its pods and reach the right ports.
	for _, s := range []struct {
		name   string
		target int32
	}{{webhookServiceName, 9443}, {metricsServiceName, 8443}} {
		svc, err := typed[corev1.Service](objs, "Service", s.name)
		if err != nil {
			p.addf("%v", err)
			continue
		}
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			p.addf("Service %s selector %v does not select the manager pods", s.name, svc.Spec.Selector)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != intstr.FromInt32(s.target) {
			p.addf("Service %s does not target port %d", s.name, s.target)
		}
	}
	return p
}

// checkWebhooks: the pod webhook sees only restored pods and never blocks them (SPEC §6), both webhook
// configurations reach the webhook Service, and cert-manager injects the serving certificate's CA.
func checkWebhooks(objs []*unstructured.Unstructured) problems {
	var p problems
	wantCA := namespace + "/" + certificateName
	svc, err := typed[corev1.Service](objs, "Service", webhookServiceName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 {
		p.addf("webhook Service does not listen on 443")
	}
	checkRef := func(cfg, hook string, ref *admissionregistrationv1.ServiceReference) {
		if ref == nil || ref.Name != svc.Name || ref.Namespace != svc.Namespace || (ref.Port != nil && *ref.Port != 443) {
			p.addf("%s webhook %s does not call Service %s/%s", cfg, hook, svc.Namespace, svc.Name)
		}
	}

	mwc, err := typed[admissionregistrationv1.MutatingWebhookConfiguration](objs, "MutatingWebhookConfiguration", mutatingName)
	if err != nil {
		p.addf("%v", err)
	} else {
		if got := mwc.Annotations[injectCAFrom]; got != wantCA {
			p.addf("MutatingWebhookConfiguration %s=%q, want %q", injectCAFrom, got, wantCA)
		}
		for _, w := range mwc.Webhooks {
			checkRef("mutating", w.Name, w.ClientConfig.Service)
		}
		if j := slices.IndexFunc(mwc.Webhooks, func(w admissionregistrationv1.MutatingWebhook) bool { return w.Name == policyAuthorWebhookName }); j < 0 {
			p.addf("no mutating webhook %s", policyAuthorWebhookName)
		} else if fp := mwc.Webhooks[j].FailurePolicy; fp == nil || *fp != admissionregistrationv1.Fail {
			p.addf("policy author webhook failurePolicy is not Fail: a policy could be admitted without its author recorded")
		}
		i := slices.IndexFunc(mwc.Webhooks, func(w admissionregistrationv1.MutatingWebhook) bool { return w.Name == podWebhookName })
		if i < 0 {
			p.addf("no mutating webhook %s", podWebhookName)
		} else {
			w := mwc.Webhooks[i]
			checkRef("mutating", w.Name, w.ClientConfig.Service)
			if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore {
				p.addf("pod webhook failurePolicy is not Ignore: it could block a restore")
			}
			if !selectsExactlyRestoredPods(w.ObjectSelector) {
				p.addf("pod webhook objectSelector %v is not {%s Exists}", w.ObjectSelector, restoreLabel)
			}
		}
	}

	vwc, err := typed[admissionregistrationv1.ValidatingWebhookConfiguration](objs, "ValidatingWebhookConfiguration", validatingName)
	if err != nil {
		p.addf("%v", err)
	} else {
		if got := vwc.Annotations[injectCAFrom]; got != wantCA {
			p.addf("ValidatingWebhookConfiguration %s=%q, want %q", injectCAFrom, got, wantCA)
		}
		for _, w := range vwc.Webhooks {
			checkRef("validating", w.Name, w.ClientConfig.Service)
		}
		for _, name := range []string{runWebhookName, policyValidateWebhookName} {
			if !slices.ContainsFunc(vwc.Webhooks, func(w admissionregistrationv1.ValidatingWebhook) bool { return w.Name == name }) {
				p.addf("no validating webhook %s", name)
			}
		}
	}
	return p
}

// selectsExactlyRestoredPods reports whether sel matches a pod with the restore label (any value) and no
// pod without it.
func selectsExactlyRestoredPods(sel *metav1.LabelSelector) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set{restoreLabel: "r2"}) && s.Matches(labels.Set{restoreLabel: "any-other-restore", "app": "x"}) &&
		!s.Matches(labels.Set{}) && !s.Matches(labels.Set{"app": "x"})
}

// checkCertificates checks the cert-manager objects' shape: their CRDs are not installed in envtest, so
// the API server cannot validate them.
func checkCertificates(objs []*unstructured.Unstructured) problems {
	var p problems
	var certs, issuers int
	for _, o := range objs {
		if o.GroupVersionKind().Group != certManagerName {
			continue
		}
		if o.GetAPIVersion() != certManagerAPI {
			p.addf("%s %s: apiVersion %q, want %q", o.GetKind(), o.GetName(), o.GetAPIVersion(), certManagerAPI)
		}
		switch o.GetKind() {
		case "Certificate":
			certs++
		case "Issuer":
			issuers++
		default:
			p.addf("unexpected cert-manager kind %s", o.GetKind())
		}
	}
	if certs != 1 || issuers != 1 {
		p.addf("%d Certificates and %d Issuers rendered, want one of each", certs, issuers)
	}

	if issuer := find(objs, "Issuer", issuerName); issuer != nil {
		if _, found, err := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); !found || err != nil {
			p.addf("Issuer %s is not selfSigned", issuerName)
		}
	}
	cert := find(objs, "Certificate", certificateName)
	if cert == nil {
		return p
	}
	svc := webhookServiceName + "." + namespace + ".svc"
	dns, _, err := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if err != nil || !slices.Equal(dns, []string{svc, svc + ".cluster.local"}) {
		p.addf("Certificate dnsNames %v, want [%s %s.cluster.local]", dns, svc, svc)
	}
	if s, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName"); s == "" {
		p.addf("Certificate has no spec.secretName")
	}
	kind, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "kind")
	name, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if kind != "Issuer" || name != issuerName || find(objs, "Issuer", name) == nil {
		p.addf("Certificate issuerRef %s/%s, want Issuer/%s", kind, name, issuerName)
	}
	return p
}

// allows reports whether rule grants verb on group/resource (wildcards included). resourceNames are
// ignored: a rule narrowed to some names still grants something on the resource.
func allows(rule rbacv1.PolicyRule, group, res, verb string) bool {
	match := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	resMatch := slices.ContainsFunc(rule.Resources, func(r string) bool {
		if r == "*" || r == res {
			return true
		}
		base, sub, hasSub := strings.Cut(res, "/")
		return hasSub && (r == base+"/*" || r == "*/"+sub)
	})
	return match(rule.APIGroups, group) && resMatch && match(rule.Verbs, verb)
}

// roleGrants reports whether any rule of rules grants verb on group/resource for every name.
func roleGrants(rules []rbacv1.PolicyRule, group, res, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return len(r.ResourceNames) == 0 && allows(r, group, res, verb)
	})
}

var allVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
	"impersonate", "bind", "escalate"}

// checkRBAC: the manager can exec into pods (the product's core), nothing rendered grants any access to
// Secrets or uses wildcards, and each role is bound to the manager's service account.
func checkRBAC(objs []*unstructured.Unstructured) problems {
	var p problems
	rulesOf := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		var rules []rbacv1.PolicyRule
		switch o.GetKind() {
		case "ClusterRole":
			r, err := typed[rbacv1.ClusterRole](objs, "ClusterRole", o.GetName())
			if err != nil {
				p.addf("%v", err)
				continue
			}
			rules = r.Rules
		case "Role":
			r, err := typed[rbacv1.Role](objs, "Role", o.GetName())
			if err != nil {
				p.addf("%v", err)
				continue
			}
			rules = r.Rules
		default:
			continue
		}
		rulesOf[o.GetKind()+"/"+o.GetName()] = rules
		for _, r := range rules {
			for _, v := range allVerbs {
				if allows(r, "", "secrets", v) {
					p.addf("%s %s grants %s on secrets", o.GetKind(), o.GetName(), v)
				}
			}
			for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs} {
				if slices.Contains(field, "*") {
					p.addf("%s %s has a wildcard rule %v", o.GetKind(), o.GetName(), r)
				}
			}
		}
	}

	manager := rulesOf["ClusterRole/"+managerRoleName]
	if !roleGrants(manager, "", "pods/exec", "create") {
		p.addf("ClusterRole %s does not grant create on pods/exec", managerRoleName)
	}
	for _, v := range []string{"get", "list", "watch"} {
		if !roleGrants(manager, "", "pods", v) {
			p.addf("ClusterRole %s does not grant %s on pods", managerRoleName, v)
		}
	}
	leader := rulesOf["Role/"+leaderRoleName]
	for _, v := range []string{"get", "create", "update"} {
		if !roleGrants(leader, "coordination.k8s.io", "leases", v) {
			p.addf("Role %s does not grant %s on leases", leaderRoleName, v)
		}
	}
	if !roleGrants(leader, "", "events", "create") {
		p.addf("Role %s does not grant create on events", leaderRoleName)
	}
	metrics := rulesOf["ClusterRole/"+metricsAuthRole]
	if !roleGrants(metrics, "authentication.k8s.io", "tokenreviews", "create") ||
		!roleGrants(metrics, "authorization.k8s.io", "subjectaccessreviews", "create") {
		p.addf("ClusterRole %s cannot create tokenreviews and subjectaccessreviews", metricsAuthRole)
	}

	// Each of the manager's roles is bound to the manager's service account.
	bound := map[string]bool{}
	for _, o := range objs {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		switch o.GetKind() {
		case "ClusterRoleBinding":
			b, err := typed[rbacv1.ClusterRoleBinding](objs, o.GetKind(), o.GetName())
			if err != nil {
				p.addf("%v", err)
				continue
			}
			ref, subjects = b.RoleRef, b.Subjects
		case "RoleBinding":
			b, err := typed[rbacv1.RoleBinding](objs, o.GetKind(), o.GetName())
			if err != nil {
				p.addf("%v", err)
				continue
			}
			ref, subjects = b.RoleRef, b.Subjects
		default:
			continue
		}
		if _, ok := rulesOf[ref.Kind+"/"+ref.Name]; !ok {
			p.addf("%s %s refers to %s %s, which is not rendered", o.GetKind(), o.GetName(), ref.Kind, ref.Name)
		}
		if slices.Contains(subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: serviceAccountName, Namespace: namespace}) {
			bound[ref.Kind+"/"+ref.Name] = true
		}
	}
	for _, role := range []string{"ClusterRole/" + managerRoleName, "Role/" + leaderRoleName, "ClusterRole/" + metricsAuthRole} {
		if !bound[role] {
			p.addf("%s is not bound to ServiceAccount %s/%s", role, namespace, serviceAccountName)
		}
	}
	return p
}

// checkServiceMonitor: config/prometheus scrapes the metrics Service's HTTPS port, and only that Service.
func checkServiceMonitor(monitor, objs []*unstructured.Unstructured) problems {
	var p problems
	if len(monitor) != 1 || monitor[0].GetKind() != "ServiceMonitor" || monitor[0].GetAPIVersion() != "monitoring.coreos.com/v1" {
		p.addf("config/prometheus should render exactly one monitoring.coreos.com/v1 ServiceMonitor")
		return p
	}
	m := monitor[0]
	sel, _, _ := unstructured.NestedStringMap(m.Object, "spec", "selector", "matchLabels")
	endpoints, _, _ := unstructured.NestedSlice(m.Object, "spec", "endpoints")
	var matched []string
	for _, o := range objs {
		if o.GetKind() == "Service" && len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(o.GetLabels())) {
			matched = append(matched, o.GetName())
		}
	}
	if !slices.Equal(matched, []string{metricsServiceName}) {
		p.addf("ServiceMonitor selects Services %v, want only %s", matched, metricsServiceName)
	}
	metrics, err := typed[corev1.Service](objs, "Service", metricsServiceName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if len(endpoints) != 1 {
		p.addf("ServiceMonitor has %d endpoints, want 1", len(endpoints))
		return p
	}
	ep, _ := endpoints[0].(map[string]any)
	port, _ := ep["port"].(string)
	if ep["scheme"] != "https" || ep["path"] != "/metrics" ||
		!slices.ContainsFunc(metrics.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == port }) {
		p.addf("ServiceMonitor endpoint %v is not https /metrics on a port of %s", ep, metricsServiceName)
	}
	return p
}

// checks are run on the rendered manifests (they must find nothing) and on every mutation case.
var checks = map[string]func(objs []*unstructured.Unstructured) problems{
	"inventory":    checkInventory,
	"deployment":   checkDeployment,
	"webhooks":     checkWebhooks,
	"certificates": checkCertificates,
	"rbac":         checkRBAC,
}

func TestRenderedManifests(t *testing.T) {
	objs := rendered(t, renderDefault)
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			for _, pr := range check(objs) {
				t.Error(pr)
			}
		})
	}
	t.Run("servicemonitor", func(t *testing.T) {
		for _, pr := range checkServiceMonitor(rendered(t, renderMonitor), objs) {
			t.Error(pr)
		}
	})
}

// edit changes the rendered object kind/name through its typed form.
func edit[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string, change func(*T)) {
	t.Helper()
	obj, err := typed[T](objs, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	change(obj)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	find(objs, kind, name).Object = m
}

func container(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

func setNested(t *testing.T, objs []*unstructured.Unstructured, kind, name string, value any, path ...string) {
	t.Helper()
	if err := unstructured.SetNestedField(find(objs, kind, name).Object, value, path...); err != nil {
		t.Fatal(err)
	}
}

// mutationCases break the rendered manifests one way each; the named check must then report a problem
// containing want. This is what shows every check above can fail.
var mutationCases = map[string]struct {
	check  string
	want   string
	mutate func(t *testing.T, objs []*unstructured.Unstructured)
}{
	"issuer missing": {"inventory", "missing Issuer", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Issuer", issuerName, "other", "metadata", "name")
	}},
	"object outside the namespace": {"inventory", "namespace \"system\"", func(t *testing.T, objs []*unstructured.Unstructured) {
		find(objs, "Service", metricsServiceName).SetNamespace("system")
	}},
	"name without prefix": {"inventory", "lacks the prefix", func(t *testing.T, objs []*unstructured.Unstructured) {
		find(objs, "ClusterRole", namePrefix+"metrics-reader").SetName("metrics-reader")
	}},
	"may run as root": {"deployment", "runAsNonRoot", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		})
	}},
	"no seccomp profile": {"deployment", "seccompProfile", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
		})
	}},
	"privilege escalation": {"deployment", "allowPrivilegeEscalation", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).SecurityContext.AllowPrivilegeEscalation = new(true)
		})
	}},
	"writable root filesystem": {"deployment", "readOnlyRootFilesystem", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).SecurityContext.ReadOnlyRootFilesystem = new(false)
		})
	}},
	"capability added": {"deployment", "capabilities", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		})
	}},
	"no leader election": {"deployment", "--leader-elect", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).Args = slices.DeleteFunc(container(d).Args, func(a string) bool { return a == "--leader-elect" })
		})
	}},
	"no webhook cert path": {"deployment", "--webhook-cert-path", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).Args = slices.DeleteFunc(container(d).Args, func(a string) bool {
				return strings.HasPrefix(a, "--webhook-cert-path")
			})
		})
	}},
	"readiness on the wrong path": {"deployment", "readiness probe", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).ReadinessProbe.HTTPGet.Path = "/healthz"
		})
	}},
	"memory limit changed": {"deployment", "limits.memory", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("128Mi")
		})
	}},
	"default service account": {"deployment", "serviceAccountName", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) { d.Spec.Template.Spec.ServiceAccountName = "" })
	}},
	"grace period": {"deployment", "terminationGracePeriodSeconds", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.TerminationGracePeriodSeconds = new(int64(30))
		})
	}},
	"no webhook port": {"deployment", "containerPort 9443", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
			container(d).Ports = slices.DeleteFunc(container(d).Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 9443 })
		})
	}},
	"certificate from another secret": {"deployment", "is not the Certificate's Secret", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Certificate", certificateName, "some-other-secret", "spec", "secretName")
	}},
	"webhook service selects nothing": {"deployment", "does not select the manager pods", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Service", webhookServiceName, map[string]any{"control-plane": "other"}, "spec", "selector")
	}},
	"pod webhook sees every pod": {"webhooks", "objectSelector", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
			c.Webhooks[0].ObjectSelector = nil
		})
	}},
	"pod webhook selects unrestored pods": {"webhooks", "objectSelector", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
			c.Webhooks[0].ObjectSelector.MatchExpressions[0].Operator = metav1.LabelSelectorOpDoesNotExist
		})
	}},
	"pod webhook blocks restores": {"webhooks", "failurePolicy", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
			c.Webhooks[0].FailurePolicy = new(admissionregistrationv1.Fail)
		})
	}},
	"no CA injection on the mutating webhook": {"webhooks", "MutatingWebhookConfiguration " + injectCAFrom, func(t *testing.T, objs []*unstructured.Unstructured) {
		find(objs, "MutatingWebhookConfiguration", mutatingName).SetAnnotations(nil)
	}},
	"CA injected from an unprefixed certificate": {"webhooks", "ValidatingWebhookConfiguration " + injectCAFrom, func(t *testing.T, objs []*unstructured.Unstructured) {
		find(objs, "ValidatingWebhookConfiguration", validatingName).SetAnnotations(map[string]string{injectCAFrom: "system/serving-cert"})
	}},
	"validating webhook calls an unprefixed service": {"webhooks", "does not call Service", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
			c.Webhooks[0].ClientConfig.Service.Name = "webhook-service"
		})
	}},
	"policy author webhook ignores failures": {"webhooks", "policy author webhook failurePolicy", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
			for i := range c.Webhooks {
				if c.Webhooks[i].Name == policyAuthorWebhookName {
					c.Webhooks[i].FailurePolicy = new(admissionregistrationv1.Ignore)
				}
			}
		})
	}},
	"no policy validating webhook": {"webhooks", "no validating webhook " + policyValidateWebhookName, func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
			c.Webhooks = slices.DeleteFunc(c.Webhooks, func(w admissionregistrationv1.ValidatingWebhook) bool { return w.Name == policyValidateWebhookName })
		})
	}},
	"certificate names the unreplaced service": {"certificates", "dnsNames", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Certificate", certificateName, []any{"SERVICE_NAME.SERVICE_NAMESPACE.svc"}, "spec", "dnsNames")
	}},
	"certificate from a missing issuer": {"certificates", "issuerRef", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Certificate", certificateName, "selfsigned-issuer", "spec", "issuerRef", "name")
	}},
	"issuer not self-signed": {"certificates", "not selfSigned", func(t *testing.T, objs []*unstructured.Unstructured) {
		setNested(t, objs, "Issuer", issuerName, map[string]any{"ca": map[string]any{"secretName": "x"}}, "spec")
	}},
	"certificate of an old API": {"certificates", "apiVersion", func(t *testing.T, objs []*unstructured.Unstructured) {
		find(objs, "Certificate", certificateName).SetAPIVersion("cert-manager.io/v1alpha2")
	}},
	"manager cannot exec": {"rbac", "create on pods/exec", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ClusterRole", managerRoleName, func(r *rbacv1.ClusterRole) {
			r.Rules = slices.DeleteFunc(r.Rules, func(p rbacv1.PolicyRule) bool { return slices.Contains(p.Resources, "pods/exec") })
		})
	}},
	"manager reads secrets": {"rbac", "get on secrets", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ClusterRole", managerRoleName, func(r *rbacv1.ClusterRole) {
			r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
		})
	}},
	"a helper role reads everything": {"rbac", "wildcard", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ClusterRole", namePrefix+"restorehookrun-viewer-role", func(r *rbacv1.ClusterRole) {
			r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"list"}})
		})
	}},
	"leader election lease not writable": {"rbac", "update on leases", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "Role", leaderRoleName, func(r *rbacv1.Role) { r.Rules[0].Verbs = []string{"get", "list", "watch"} })
	}},
	"manager role bound to another account": {"rbac", "ClusterRole/" + managerRoleName + " is not bound", func(t *testing.T, objs []*unstructured.Unstructured) {
		edit(t, objs, "ClusterRoleBinding", namePrefix+"manager-rolebinding", func(b *rbacv1.ClusterRoleBinding) {
			b.Subjects[0].Name = "default"
		})
	}},
}

func TestChecksCatchBrokenManifests(t *testing.T) {
	for name, tc := range mutationCases {
		t.Run(name, func(t *testing.T) {
			objs := rendered(t, renderDefault)
			tc.mutate(t, objs)
			found := checks[tc.check](objs)
			if !slices.ContainsFunc(found, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("check %s did not report %q; it reported %q", tc.check, tc.want, found)
			}
		})
	}
	t.Run("service monitor on the wrong port", func(t *testing.T) {
		monitor := rendered(t, renderMonitor)
		eps, _, _ := unstructured.NestedSlice(monitor[0].Object, "spec", "endpoints")
		eps[0].(map[string]any)["port"] = "metrics"
		if err := unstructured.SetNestedSlice(monitor[0].Object, eps, "spec", "endpoints"); err != nil {
			t.Fatal(err)
		}
		if found := checkServiceMonitor(monitor, rendered(t, renderDefault)); len(found) == 0 {
			t.Error("checkServiceMonitor accepted an endpoint on a port the metrics Service lacks")
		}
	})
}

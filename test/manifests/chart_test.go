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

package manifests_test

// The Helm chart (charts/restore-hook-operator, SPEC §12) rendered and linted with Helm's Go SDK, and
// compared with config/default: the release "restore-hook-operator" in "restore-hook-operator-system"
// gives every object the name kustomize gives it, so objects are compared one to one.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	chartloader "helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const (
	// The Kubernetes version rendering and lint assume: the envtest control plane's. (Test binaries would
	// otherwise get Helm's fixed test default, v1.20, which the chart's kubeVersion refuses.)
	kubeVersion      = "v1.36.3"
	chartReleaseName = "restore-hook-operator"
	webhookSecret    = namePrefix + "webhook-server-cert"
)

func chartDir() string {
	return filepath.Join(localcluster.RepoRoot(), "charts", "restore-hook-operator")
}

// renderChart renders the chart as `helm template --include-crds` does (client-only: `lookup` finds
// nothing, so the self-signed mode generates a fresh certificate), with vals over values.yaml.
func renderChart(vals map[string]any) ([]*unstructured.Unstructured, error) {
	ch, err := chartloader.Load(chartDir())
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = chartReleaseName
	install.Namespace = namespace
	install.IncludeCRDs = true
	if install.KubeVersion, err = common.ParseKubeVersion(kubeVersion); err != nil {
		return nil, err
	}
	rel, err := install.Run(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm template: %w", err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("helm template returned a %T", rel)
	}
	return decodeManifest(r.Manifest)
}

// decodeManifest splits a multi-document YAML stream into objects.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding the rendered manifest: %w", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// values builds a values map from dotted paths, e.g. values("replicas", 2, "certManager.enabled", true).
func values(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		path := strings.Split(kv[i].(string), ".")
		m := out
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = kv[i+1]
	}
	return out
}

// The chart with the image config/manager names, so checkDeployment's image check applies unchanged.
var kustomizeImage = []any{"image.repository", "controller", "image.tag", "latest"}

var (
	renderChartCertManager = sync.OnceValues(func() ([]*unstructured.Unstructured, error) {
		return renderChart(values(append(kustomizeImage, "certManager.enabled", true)...))
	})
	renderChartSelfSigned = sync.OnceValues(func() ([]*unstructured.Unstructured, error) {
		return renderChart(values(kustomizeImage...))
	})
)

// objectIDs lists kind/name of objs, sorted.
func objectIDs(objs []*unstructured.Unstructured, skip func(*unstructured.Unstructured) bool) []string {
	var ids []string
	for _, o := range objs {
		if skip == nil || !skip(o) {
			ids = append(ids, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		}
	}
	slices.Sort(ids)
	return ids
}

// compareInventory: the chart renders the objects config/default does, with the same names and namespaces,
// except the Namespace (Helm installs into the release namespace, made by --create-namespace) and the
// certificate objects of the mode in use.
func compareInventory(kust, chart []*unstructured.Unstructured, certManager bool) problems {
	var p problems
	want := objectIDs(kust, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Namespace" || (!certManager && o.GroupVersionKind().Group == certManagerName)
	})
	if !certManager {
		want = append(want, "Secret/"+namespace+"/"+webhookSecret)
		slices.Sort(want)
	}
	if got := objectIDs(chart, nil); !slices.Equal(got, want) {
		p.addf("chart objects differ from config/default's (-kustomize +chart):\n%s", cmp.Diff(want, got))
	}
	return p
}

// sortedRules puts rules and the lists inside them in order, so equal permissions compare equal.
func sortedRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(rules))
	for i, r := range rules {
		r = *r.DeepCopy()
		for _, l := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
			slices.Sort(l)
		}
		out[i] = r
	}
	slices.SortFunc(out, func(a, b rbacv1.PolicyRule) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// rbacOf returns every role's rules and every binding's roleRef and subjects, keyed by kind/namespace/name.
func rbacOf(objs []*unstructured.Unstructured) (map[string]any, error) {
	out := map[string]any{}
	for _, o := range objs {
		id := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		var err error
		switch o.GetKind() {
		case "ClusterRole":
			var r *rbacv1.ClusterRole
			if r, err = typed[rbacv1.ClusterRole](objs, o.GetKind(), o.GetName()); err == nil {
				out[id] = sortedRules(r.Rules)
			}
		case "Role":
			var r *rbacv1.Role
			if r, err = typed[rbacv1.Role](objs, o.GetKind(), o.GetName()); err == nil {
				out[id] = sortedRules(r.Rules)
			}
		case "ClusterRoleBinding":
			var b *rbacv1.ClusterRoleBinding
			if b, err = typed[rbacv1.ClusterRoleBinding](objs, o.GetKind(), o.GetName()); err == nil {
				out[id] = []any{b.RoleRef, b.Subjects}
			}
		case "RoleBinding":
			var b *rbacv1.RoleBinding
			if b, err = typed[rbacv1.RoleBinding](objs, o.GetKind(), o.GetName()); err == nil {
				out[id] = []any{b.RoleRef, b.Subjects}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// compareRBAC: every role grants exactly what config/default's role of the same name grants (manager-role
// is generated from the +kubebuilder:rbac markers), and every binding binds the same role to the same
// subjects.
func compareRBAC(kust, chart []*unstructured.Unstructured) problems {
	var p problems
	want, err := rbacOf(kust)
	if err != nil {
		p.addf("config/default: %v", err)
		return p
	}
	got, err := rbacOf(chart)
	if err != nil {
		p.addf("chart: %v", err)
		return p
	}
	if d := cmp.Diff(want, got); d != "" {
		p.addf("chart RBAC differs from config/default's (-kustomize +chart):\n%s", d)
	}
	return p
}

// webhooksOf returns the webhooks of the rendered configurations by name, without the CA bundle (which
// only the chart's self-signed mode sets), and the configurations' annotations.
func webhooksOf(objs []*unstructured.Unstructured) (hooks map[string]any, annotations map[string]map[string]string, err error) {
	hooks, annotations = map[string]any{}, map[string]map[string]string{}
	for _, o := range objs {
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			c, err := typed[admissionregistrationv1.MutatingWebhookConfiguration](objs, o.GetKind(), o.GetName())
			if err != nil {
				return nil, nil, err
			}
			annotations[o.GetKind()+"/"+o.GetName()] = c.Annotations
			for _, w := range c.Webhooks {
				w.ClientConfig.CABundle = nil
				hooks[o.GetKind()+"/"+o.GetName()+"/"+w.Name] = w
			}
		case "ValidatingWebhookConfiguration":
			c, err := typed[admissionregistrationv1.ValidatingWebhookConfiguration](objs, o.GetKind(), o.GetName())
			if err != nil {
				return nil, nil, err
			}
			annotations[o.GetKind()+"/"+o.GetName()] = c.Annotations
			for _, w := range c.Webhooks {
				w.ClientConfig.CABundle = nil
				hooks[o.GetKind()+"/"+o.GetName()+"/"+w.Name] = w
			}
		}
	}
	return hooks, annotations, nil
}

// compareWebhooks: the chart's webhooks equal config/default's in every field (rules, paths, Service,
// failurePolicy, objectSelector, sideEffects, timeouts, reinvocation), apart from the CA bundle; with
// cert-manager, the CA injection annotation is the same too.
func compareWebhooks(kust, chart []*unstructured.Unstructured, certManager bool) problems {
	var p problems
	want, wantAnn, err := webhooksOf(kust)
	if err != nil {
		p.addf("config/default: %v", err)
		return p
	}
	got, gotAnn, err := webhooksOf(chart)
	if err != nil {
		p.addf("chart: %v", err)
		return p
	}
	if d := cmp.Diff(want, got); d != "" {
		p.addf("chart webhooks differ from config/default's (-kustomize +chart):\n%s", d)
	}
	for cfg, ann := range wantAnn {
		if got := gotAnn[cfg][injectCAFrom]; certManager && got != ann[injectCAFrom] {
			p.addf("%s: %s=%q, config/default has %q", cfg, injectCAFrom, got, ann[injectCAFrom])
		} else if !certManager && got != "" {
			p.addf("%s: %s=%q without cert-manager", cfg, injectCAFrom, got)
		}
	}
	return p
}

// managerOptions parses the manager container's args with the manager's own flag set, so a flag the
// manager does not have fails here rather than in a crash-looping pod.
func managerOptions(objs []*unstructured.Unstructured) (operator.Options, []string, error) {
	var o operator.Options
	d, err := typed[appsv1.Deployment](objs, "Deployment", deploymentName)
	if err != nil {
		return o, nil, err
	}
	args := container(d).Args
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, args, fmt.Errorf("manager args %v: %w", args, err)
	}
	return o, args, nil
}

// compareDeployment: with default values the manager runs with the same settings as config/default's
// (its args mean the same to the manager's flag parser), and its pod is the same apart from labels, image
// pull policy, args and the name of the certificate Secret.
func compareDeployment(kust, chart []*unstructured.Unstructured) problems {
	var p problems
	wantOpts, _, err := managerOptions(kust)
	if err != nil {
		p.addf("config/default: %v", err)
		return p
	}
	gotOpts, _, err := managerOptions(chart)
	if err != nil {
		p.addf("chart: %v", err)
		return p
	}
	if d := cmp.Diff(wantOpts, gotOpts, cmpopts.IgnoreFields(operator.Options{}, "Executor", "WrapClient")); d != "" {
		p.addf("the manager's settings differ (-kustomize +chart):\n%s", d)
	}
	want, err := typed[appsv1.Deployment](kust, "Deployment", deploymentName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	got, err := typed[appsv1.Deployment](chart, "Deployment", deploymentName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	normalize := func(d *appsv1.Deployment) corev1.PodSpec {
		s := *d.Spec.Template.Spec.DeepCopy()
		s.Containers[0].Args, s.Containers[0].ImagePullPolicy = nil, ""
		for i := range s.Volumes {
			if s.Volumes[i].Secret != nil {
				s.Volumes[i].Secret.SecretName = ""
			}
		}
		return s
	}
	if d := cmp.Diff(normalize(want), normalize(got)); d != "" {
		p.addf("the manager pod differs (-kustomize +chart):\n%s", d)
	}
	if *want.Spec.Replicas != *got.Spec.Replicas {
		p.addf("replicas %d, config/default has %d", *got.Spec.Replicas, *want.Spec.Replicas)
	}
	for _, name := range []string{webhookServiceName, metricsServiceName} {
		ws, err1 := typed[corev1.Service](kust, "Service", name)
		gs, err2 := typed[corev1.Service](chart, "Service", name)
		if err := errors.Join(err1, err2); err != nil {
			p.addf("%v", err)
			continue
		}
		if d := cmp.Diff(ws.Spec.Ports, gs.Spec.Ports); d != "" {
			p.addf("Service %s ports differ (-kustomize +chart):\n%s", name, d)
		}
	}
	return p
}

// checkSelfSignedCert: without cert-manager the chart renders a TLS Secret for the webhook Service's DNS
// name, signed by the CA the webhook configurations carry, and the manager mounts it.
func checkSelfSignedCert(objs []*unstructured.Unstructured) problems {
	var p problems
	secret, err := typed[corev1.Secret](objs, "Secret", webhookSecret)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if secret.Type != corev1.SecretTypeTLS {
		p.addf("Secret %s has type %q, want %q", webhookSecret, secret.Type, corev1.SecretTypeTLS)
	}
	ca := secret.Data["ca.crt"]
	dnsName := webhookServiceName + "." + namespace + ".svc"
	if err := verifyServingCert(secret.Data["tls.crt"], secret.Data["tls.key"], ca, dnsName); err != nil {
		p.addf("Secret %s: %v", webhookSecret, err)
	}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, o := range objs {
			if o.GetKind() != kind {
				continue
			}
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			for _, h := range hooks {
				b64, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle")
				if b64 == "" || !bytes.Equal(mustB64(b64), ca) {
					p.addf("%s %s: caBundle is not the Secret's ca.crt", kind, o.GetName())
				}
			}
		}
	}
	d, err := typed[appsv1.Deployment](objs, "Deployment", deploymentName)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == webhookSecret
	}) {
		p.addf("the manager does not mount Secret %s", webhookSecret)
	}
	return p
}

func TestChartMatchesKustomize(t *testing.T) {
	kust := rendered(t, renderDefault)
	for _, mode := range []struct {
		name        string
		certManager bool
		render      func() ([]*unstructured.Unstructured, error)
	}{{"cert-manager", true, renderChartCertManager}, {"self-signed", false, renderChartSelfSigned}} {
		t.Run(mode.name, func(t *testing.T) {
			chart := rendered(t, mode.render)
			all := map[string]problems{
				"inventory":      compareInventory(kust, chart, mode.certManager),
				"rbac drift":     compareRBAC(kust, chart),
				"webhooks drift": compareWebhooks(kust, chart, mode.certManager),
				"deployment":     compareDeployment(kust, chart),
				// config/default's own checks hold for the chart too.
				"deployment checks": slices.DeleteFunc(checkDeployment(chart), func(pr string) bool {
					// Without cert-manager there is no Certificate; checkSelfSignedCert checks the mount.
					return !mode.certManager && strings.Contains(pr, "the Certificate's Secret")
				}),
				"rbac checks": checkRBAC(chart),
			}
			if mode.certManager {
				all["webhook checks"] = checkWebhooks(chart)
				all["certificates"] = checkCertificates(chart)
			} else {
				all["self-signed certificate"] = checkSelfSignedCert(chart)
			}
			for name, ps := range all {
				for _, pr := range ps {
					t.Errorf("%s: %s", name, pr)
				}
			}
		})
	}
}

// TestChartDriftIsCaught breaks the chart's rendering one way each and requires the comparison with
// config/default to report it, so the drift checks above can fail.
func TestChartDriftIsCaught(t *testing.T) {
	for name, tc := range map[string]struct {
		want   string
		check  func(kust, chart []*unstructured.Unstructured) problems
		mutate func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		"manager role lost a verb": {"RBAC differs", compareRBAC, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ClusterRole", managerRoleName, func(r *rbacv1.ClusterRole) {
				r.Rules[0].Verbs = r.Rules[0].Verbs[:1]
			})
		}},
		"manager role gained a rule": {"RBAC differs", compareRBAC, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ClusterRole", managerRoleName, func(r *rbacv1.ClusterRole) {
				r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}})
			})
		}},
		"binding to another account": {"RBAC differs", compareRBAC, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ClusterRoleBinding", namePrefix+"manager-rolebinding", func(b *rbacv1.ClusterRoleBinding) {
				b.Subjects[0].Name = "default"
			})
		}},
		"pod webhook fails closed": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
				c.Webhooks[0].FailurePolicy = ptrTo(admissionregistrationv1.Fail)
			})
		}},
		"pod webhook sees every pod": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "MutatingWebhookConfiguration", mutatingName, func(c *admissionregistrationv1.MutatingWebhookConfiguration) {
				c.Webhooks[0].ObjectSelector = nil
			})
		}},
		"validator on another path": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
				c.Webhooks[0].ClientConfig.Service.Path = ptrTo("/validate")
			})
		}},
		"validator without UPDATE": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
				c.Webhooks[0].Rules[0].Operations = c.Webhooks[0].Rules[0].Operations[:1]
			})
		}},
		"validator with a longer timeout": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
				c.Webhooks[0].TimeoutSeconds = ptrTo(int32(30))
			})
		}},
		"validator with side effects": {"webhooks differ", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "ValidatingWebhookConfiguration", validatingName, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
				c.Webhooks[0].SideEffects = ptrTo(admissionregistrationv1.SideEffectClassSome)
			})
		}},
		"CA injected from elsewhere": {"inject-ca-from", compareWebhooks4, func(t *testing.T, objs []*unstructured.Unstructured) {
			find(objs, "ValidatingWebhookConfiguration", validatingName).SetAnnotations(map[string]string{injectCAFrom: "x/y"})
		}},
		"extra object": {"differ from config/default", compareInventory4, func(t *testing.T, objs []*unstructured.Unstructured) {
			find(objs, "ClusterRole", namePrefix+"metrics-reader").SetName("metrics-reader")
		}},
		"manager flag changed": {"settings differ", compareDeployment, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
				container(d).Args = append(container(d).Args, "--max-concurrent-execs=1")
			})
		}},
		"memory limit changed": {"pod differs", compareDeployment, func(t *testing.T, objs []*unstructured.Unstructured) {
			edit(t, objs, "Deployment", deploymentName, func(d *appsv1.Deployment) {
				container(d).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
			})
		}},
	} {
		t.Run(name, func(t *testing.T) {
			kust := rendered(t, renderDefault)
			chart := rendered(t, renderChartCertManager)
			if ps := tc.check(kust, chart); len(ps) > 0 {
				t.Fatalf("the unbroken chart already has problems: %v", ps)
			}
			tc.mutate(t, chart)
			ps := tc.check(kust, chart)
			if !slices.ContainsFunc(ps, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("problems %q, want one containing %q", ps, tc.want)
			}
		})
	}
}

func compareWebhooks4(kust, chart []*unstructured.Unstructured) problems {
	return compareWebhooks(kust, chart, true)
}

func compareInventory4(kust, chart []*unstructured.Unstructured) problems {
	return compareInventory(kust, chart, true)
}

func ptrTo[T any](v T) *T { return &v }

// TestChartCRDsAreGenerated: the chart's crds/ holds exactly the CRDs `make manifests` generates into
// config/crd/bases, byte for byte (`make manifests` copies them; `make verify` fails on a stale copy).
func TestChartCRDsAreGenerated(t *testing.T) {
	gen := filepath.Join(localcluster.RepoRoot(), "config", "crd", "bases")
	crds := filepath.Join(chartDir(), "crds")
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if want, got := names(gen), names(crds); !slices.Equal(want, got) {
		t.Fatalf("charts/restore-hook-operator/crds has %v, config/crd/bases has %v: run 'make manifests'", got, want)
	}
	for _, name := range names(gen) {
		want, err1 := os.ReadFile(filepath.Join(gen, name))
		got, err2 := os.ReadFile(filepath.Join(crds, name))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("charts/restore-hook-operator/crds/%s differs from config/crd/bases/%s: run 'make manifests'", name, name)
		}
	}
}

// TestChartNonDefaultValues renders the chart with every value changed from its default and checks that
// each one reaches the object it configures.
func TestChartNonDefaultValues(t *testing.T) {
	vals := values(
		"image.repository", "registry.example.com/rho", "image.digest", "sha256:"+strings.Repeat("ab", 32),
		"image.pullPolicy", "Always",
		"imagePullSecrets", []any{map[string]any{"name": "regcred"}},
		"replicas", 3,
		"leaderElection.leaseDuration", "30s", "leaderElection.renewDeadline", "20s", "leaderElection.retryPeriod", "4s",
		"veleroNamespace", "backup",
		"adminNamespaces", []any{"backup", "dr-admin"},
		"exec.maxConcurrent", 16, "exec.maxQueued", 2048,
		"extraArgs", []any{"--status-write-interval=250ms", "--max-concurrent-runs=8"},
		"certManager.enabled", true, "certManager.issuerRef", map[string]any{"kind": "ClusterIssuer", "name": "corp-ca"},
		"metrics.serviceMonitor.enabled", true, "metrics.serviceMonitor.interval", "30s",
		"metrics.serviceMonitor.labels", map[string]any{"release": "prometheus"},
		"resources", map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "128Mi"},
			"limits": map[string]any{"memory": "512Mi", "cpu": nil}},
		"nodeSelector", map[string]any{"kubernetes.io/os": "linux", "pool": "system"},
		"tolerations", []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}},
		"affinity", map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
				"key": "pool", "operator": "In", "values": []any{"system"}}}}}}}},
		"podSecurityContext", map[string]any{"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
		"securityContext", map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
			"runAsGroup": 65532, "capabilities": map[string]any{"drop": []any{"ALL"}}},
		"podAnnotations", map[string]any{"example.com/team": "dr"},
		"priorityClassName", "system-cluster-critical",
	)
	objs, err := renderChart(vals)
	if err != nil {
		t.Fatal(err)
	}
	d, err := typed[appsv1.Deployment](objs, "Deployment", deploymentName)
	if err != nil {
		t.Fatal(err)
	}
	pod, c := d.Spec.Template.Spec, container(d)
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *d.Spec.Replicas)
	}
	if want := "registry.example.com/rho@sha256:" + strings.Repeat("ab", 32); c.Image != want || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pull %q, want %q pull Always", c.Image, c.ImagePullPolicy, want)
	}
	if d := cmp.Diff([]corev1.LocalObjectReference{{Name: "regcred"}}, pod.ImagePullSecrets); d != "" {
		t.Errorf("imagePullSecrets (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"kubernetes.io/os": "linux", "pool": "system"}, pod.NodeSelector); d != "" {
		t.Errorf("nodeSelector (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "system",
		Effect: corev1.TaintEffectNoSchedule}}, pod.Tolerations); d != "" {
		t.Errorf("tolerations (-want +got):\n%s", d)
	}
	if a := pod.Affinity; a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "system" {
		t.Errorf("affinity %+v does not require pool=system", a)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v lacks runAsUser 65532", psc)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
		t.Errorf("container securityContext %+v lacks runAsGroup 65532", sc)
	}
	if d.Spec.Template.Annotations["example.com/team"] != "dr" || pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("pod annotations %v priorityClassName %q", d.Spec.Template.Annotations, pod.PriorityClassName)
	}
	for name, want := range map[corev1.ResourceName]string{"requests/cpu": "250m", "requests/memory": "128Mi", "limits/memory": "512Mi"} {
		kind, res, _ := strings.Cut(string(name), "/")
		list := c.Resources.Requests
		if kind == "limits" {
			list = c.Resources.Limits
		}
		if got := list[corev1.ResourceName(res)]; got.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("resources.%s is %v, want %s", name, got.String(), want)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Errorf("resources.limits.cpu set although the values remove it (cpu: null)")
	}
	for _, pr := range checkDeployment(objs) {
		// The image and resources were changed on purpose; every other property still holds.
		if !strings.Contains(pr, "image") && !strings.Contains(pr, "requests.") && !strings.Contains(pr, "limits.") {
			t.Errorf("deployment check: %s", pr)
		}
	}

	// The manager's flags, parsed by the manager's own flag set.
	opts, args, err := managerOptions(objs)
	if err != nil {
		t.Fatal(err)
	}
	wantOpts := map[string]any{
		"LeaderElect": true, "LeaseDuration": "30s", "RenewDeadline": "20s", "RetryPeriod": "4s",
		"VeleroNamespace": "backup", "AdminNamespaces": "backup,dr-admin",
		"MaxConcurrentExecs": 16, "MaxQueuedExecs": 2048, "StatusWriteInterval": "250ms", "MaxConcurrentRuns": 8,
		"MetricsAddr": ":8443", "WebhookCertPath": webhookCertDir,
	}
	gotOpts := map[string]any{
		"LeaderElect": opts.LeaderElect, "LeaseDuration": opts.LeaseDuration.String(), "RenewDeadline": opts.RenewDeadline.String(),
		"RetryPeriod": opts.RetryPeriod.String(), "VeleroNamespace": opts.VeleroNamespace, "AdminNamespaces": opts.AdminNamespaces,
		"MaxConcurrentExecs": opts.MaxConcurrentExecs, "MaxQueuedExecs": opts.MaxQueuedExecs,
		"StatusWriteInterval": opts.StatusWriteInterval.String(), "MaxConcurrentRuns": opts.MaxConcurrentRuns,
		"MetricsAddr": opts.MetricsAddr, "WebhookCertPath": opts.WebhookCertPath,
	}
	if d := cmp.Diff(wantOpts, gotOpts); d != "" {
		t.Errorf("manager options from args %v (-want +got):\n%s", args, d)
	}

	// cert-manager with the given issuer: no Issuer of the chart's own, the Certificate names the given one.
	if find(objs, "Issuer", issuerName) != nil {
		t.Errorf("an Issuer is rendered although certManager.issuerRef names one")
	}
	cert := find(objs, "Certificate", certificateName)
	if cert == nil {
		t.Fatalf("no Certificate %s", certificateName)
	}
	ref, _, _ := unstructured.NestedStringMap(cert.Object, "spec", "issuerRef")
	if d := cmp.Diff(map[string]string{"kind": "ClusterIssuer", "name": "corp-ca"}, ref); d != "" {
		t.Errorf("Certificate issuerRef (-want +got):\n%s", d)
	}
	if find(objs, "Secret", webhookSecret) != nil {
		t.Errorf("the chart renders its own certificate Secret although cert-manager issues it")
	}

	// The ServiceMonitor scrapes the metrics Service, with the interval and labels asked for.
	var monitor []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ServiceMonitor" {
			monitor = append(monitor, o)
		}
	}
	for _, pr := range checkServiceMonitor(monitor, objs) {
		t.Error(pr)
	}
	if len(monitor) == 1 {
		if monitor[0].GetLabels()["release"] != "prometheus" {
			t.Errorf("ServiceMonitor labels %v lack release=prometheus", monitor[0].GetLabels())
		}
		eps, _, _ := unstructured.NestedSlice(monitor[0].Object, "spec", "endpoints")
		if len(eps) != 1 || eps[0].(map[string]any)["interval"] != "30s" {
			t.Errorf("ServiceMonitor endpoints %v lack interval 30s", eps)
		}
	}
}

// TestChartOptionalParts: what switching a part off removes, and what the defaults leave out.
func TestChartOptionalParts(t *testing.T) {
	t.Run("defaults have no ServiceMonitor", func(t *testing.T) {
		objs := rendered(t, renderChartSelfSigned)
		if ids := objectIDs(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() != "ServiceMonitor" }); len(ids) > 0 {
			t.Errorf("default values render %v", ids)
		}
	})
	t.Run("metrics off", func(t *testing.T) {
		objs, err := renderChart(values("metrics.enabled", false))
		if err != nil {
			t.Fatal(err)
		}
		for _, gone := range [][2]string{{"Service", metricsServiceName}, {"ClusterRole", metricsAuthRole},
			{"ClusterRoleBinding", namePrefix + "metrics-auth-rolebinding"}, {"ClusterRole", namePrefix + "metrics-reader"}} {
			if find(objs, gone[0], gone[1]) != nil {
				t.Errorf("%s %s rendered with metrics.enabled=false", gone[0], gone[1])
			}
		}
		opts, args, err := managerOptions(objs)
		if err != nil {
			t.Fatal(err)
		}
		if opts.MetricsAddr != "0" {
			t.Errorf("args %v: metrics bind address %q, want 0 (off)", args, opts.MetricsAddr)
		}
	})
	t.Run("leader election off", func(t *testing.T) {
		objs, err := renderChart(values("leaderElection.enabled", false))
		if err != nil {
			t.Fatal(err)
		}
		if find(objs, "Role", leaderRoleName) != nil {
			t.Errorf("Role %s rendered without leader election", leaderRoleName)
		}
		if opts, args, err := managerOptions(objs); err != nil || opts.LeaderElect {
			t.Errorf("args %v (%v): leader election still on", args, err)
		}
	})
}

// TestChartRefusesBadValues: values.schema.json and the chart's cross-value checks refuse a bad value with a
// message naming it.
func TestChartRefusesBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want []string
	}{
		"replicas not a number":       {values("replicas", "two"), []string{"/replicas", "want integer"}},
		"negative replicas":           {values("replicas", -1), []string{"/replicas", "minimum"}},
		"misspelt top-level key":      {values("replica", 2), []string{"replica", "additional properties"}},
		"misspelt nested key":         {values("exec.maxConcurent", 2), []string{"/exec", "maxConcurent"}},
		"negative exec limit":         {values("exec.maxConcurrent", -1), []string{"/exec/maxConcurrent", "minimum"}},
		"fractional exec limit":       {values("exec.maxQueued", 1.5), []string{"/exec/maxQueued", "want integer"}},
		"namespace with capitals":     {values("veleroNamespace", "Velero_NS"), []string{"/veleroNamespace", "does not match pattern"}},
		"admin namespaces not a list": {values("adminNamespaces", "a,b"), []string{"/adminNamespaces", "want array"}},
		"duration in words":           {values("leaderElection.leaseDuration", "15 seconds"), []string{"/leaderElection/leaseDuration"}},
		"unknown pull policy":         {values("image.pullPolicy", "Sometimes"), []string{"/image/pullPolicy"}},
		"empty repository":            {values("image.repository", ""), []string{"/image/repository"}},
		"toleration operator":         {values("tolerations", []any{map[string]any{"key": "k", "operator": "Maybe"}}), []string{"/tolerations/0/operator"}},
		"cpu quantity in words":       {values("resources.limits.cpu", "lots"), []string{"/resources/limits/cpu"}},
		"resources misspelt":          {values("resources.limit", map[string]any{}), []string{"/resources", "limit"}},
		"node selector value number":  {values("nodeSelector", map[string]any{"pool": 1}), []string{"/nodeSelector/pool", "want string"}},
		"issuer without a name":       {values("certManager.enabled", true, "certManager.issuerRef", map[string]any{"kind": "ClusterIssuer"}), []string{"/certManager/issuerRef", "name"}},
		"extra arg not a flag":        {values("extraArgs", []any{"max-concurrent-runs=8"}), []string{"/extraArgs/0"}},
		"zero certificate validity":   {values("webhook.certValidityDays", 0), []string{"/webhook/certValidityDays", "minimum"}},
		"replicas without leader election": {values("replicas", 2, "leaderElection.enabled", false),
			[]string{"replicas=2", "leaderElection.enabled=true"}},
		"service monitor without metrics": {values("metrics.enabled", false, "metrics.serviceMonitor.enabled", true),
			[]string{"metrics.serviceMonitor.enabled=true", "metrics.enabled=true"}},
		"issuer without cert-manager": {values("certManager.issuerRef", map[string]any{"kind": "ClusterIssuer", "name": "ca"}),
			[]string{"certManager.issuerRef", "certManager.enabled=false"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(tc.vals)
			if err == nil {
				t.Fatalf("values %v were accepted", tc.vals)
			}
			t.Logf("refused: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// lintChart lints dir with Helm's lint action, strictly (warnings count), as `make helm-lint` does.
func lintChart(dir string, vals map[string]any) []support.Message {
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return []support.Message{{Severity: support.ErrorSev, Err: err}}
	}
	l.KubeVersion = kv
	res := l.Run([]string{dir}, vals)
	msgs := slices.Clone(res.Messages)
	for _, err := range res.Errors {
		msgs = append(msgs, support.Message{Severity: support.ErrorSev, Err: err})
	}
	return slices.DeleteFunc(msgs, func(m support.Message) bool { return m.Severity < support.WarningSev })
}

// TestChartLints lints the chart with its default values and with every values file in ci/, then shows
// that lint catches a broken copy.
func TestChartLints(t *testing.T) {
	ciFiles, err := filepath.Glob(filepath.Join(chartDir(), "ci", "*-values.yaml"))
	if err != nil || len(ciFiles) == 0 {
		t.Fatalf("no ci/*-values.yaml in the chart (%v)", err)
	}
	for _, f := range append([]string{""}, ciFiles...) {
		t.Run("values "+filepath.Base(f), func(t *testing.T) {
			vals := map[string]any{}
			if f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if vals, err = chartValues(b); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			for _, m := range lintChart(chartDir(), vals) {
				t.Errorf("lint: %s", m)
			}
		})
	}

	t.Run("a broken copy fails", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "restore-hook-operator")
		if err := os.CopyFS(dir, os.DirFS(chartDir())); err != nil {
			t.Fatal(err)
		}
		tpl := filepath.Join(dir, "templates", "services.yaml")
		b, err := os.ReadFile(tpl)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tpl, append(b, []byte("\n{{ .Values.nosuch.field }}\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		if msgs := lintChart(dir, nil); len(msgs) == 0 {
			t.Errorf("lint found nothing wrong in a template that reads a missing value")
		}
	})
}

// chartValues parses a values file as Helm does.
func chartValues(b []byte) (map[string]any, error) {
	v, err := common.ReadValues(b)
	if err != nil {
		return nil, err
	}
	return v.AsMap(), nil
}

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// verifyServingCert checks that certPEM and keyPEM are a pair and that certPEM is valid for dnsName as a
// TLS server certificate issued by caPEM: what the API server checks when it calls the webhook.
func verifyServingCert(certPEM, keyPEM, caPEM []byte, dnsName string) error {
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("tls.crt and tls.key are not a pair: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parsing tls.crt: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return errors.New("ca.crt holds no PEM certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("tls.crt is not valid for %s under ca.crt: %w", dnsName, err)
	}
	return nil
}

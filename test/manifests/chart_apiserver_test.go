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

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartloader "helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

// testLogWriter sends Helm's log lines to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestChartInstallsOnAPIServer installs the chart with Helm's Go SDK (as `helm install` and `helm upgrade`
// do) on a real kube-apiserver (envtest) that has only Velero's Restore CRD, so the chart's own crds/ are
// what define RestoreHookRun there. Self-signed mode, non-default values: everything is created for real.
// Then an upgrade keeps the generated certificate (lookup), the webhooks behave as configured with no
// manager behind them, uninstall removes what the chart installed, and the cert-manager mode's objects,
// apart from cert-manager's own kinds (whose CRDs are not available here), pass a server-side dry run.
func TestChartInstallsOnAPIServer(t *testing.T) {
	restoreCRD, err := localcluster.VeleroRestoreCRD()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{restoreCRD},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: localcluster.AssetsDir(),
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest (set KUBEBUILDER_ASSETS or run 'make envtest'): %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := localcluster.WriteKubeconfig(cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	ns := namespace
	flags.Namespace = &ns
	helmCfg := action.NewConfiguration(action.ConfigurationSetLogger(
		slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := helmCfg.Init(flags, namespace, "secret"); err != nil {
		t.Fatal(err)
	}
	ch, err := chartloader.Load(chartDir())
	if err != nil {
		t.Fatal(err)
	}

	// helm install --create-namespace, with values a user would change.
	install := action.NewInstall(helmCfg)
	install.ReleaseName = chartReleaseName
	install.Namespace = namespace
	install.CreateNamespace = true
	install.WaitStrategy = kube.HookOnlyStrategy // nothing runs pods here: do not wait for the Deployment
	install.Timeout = 2 * time.Minute
	if _, err := install.RunWithContext(ctx, ch, values(
		"replicas", 2,
		"adminNamespaces", []any{"velero", "dr-admin"},
		"exec.maxConcurrent", 64,
		"nodeSelector", map[string]any{"kubernetes.io/os": "linux"},
		"tolerations", []any{map[string]any{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}},
		"resources.requests.cpu", "200m",
	)); err != nil {
		t.Fatalf("helm install: %v", err)
	}

	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := c.Get(ctx, client.ObjectKey{Name: "restorehookruns.hooks.restorehooks.io"}, crd); err != nil {
		t.Errorf("the chart's CRD is not installed: %v", err)
	}
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, dep); err != nil {
		t.Fatalf("getting the Deployment: %v", err)
	}
	if *dep.Spec.Replicas != 2 || !slices.Contains(container(dep).Args, "--max-concurrent-execs=64") ||
		!slices.Contains(container(dep).Args, "--admin-namespaces=velero,dr-admin") ||
		dep.Spec.Template.Spec.NodeSelector["kubernetes.io/os"] != "linux" || len(dep.Spec.Template.Spec.Tolerations) != 1 {
		t.Errorf("installed Deployment does not carry the values: replicas %d, args %v, nodeSelector %v, tolerations %v",
			*dep.Spec.Replicas, container(dep).Args, dep.Spec.Template.Spec.NodeSelector, dep.Spec.Template.Spec.Tolerations)
	}
	certBefore := installedCert(ctx, t, c)

	// The webhooks are live, as configured: the validator fails closed (a RestoreHookRun is refused while
	// no manager answers), the pod mutator fails open and sees only restored pods (pods are created).
	for _, ns := range []string{"velero", "apps"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	sample := find(rendered(t, renderSamples), "RestoreHookRun", "r2-hooks")
	if sample == nil {
		t.Fatal("no sample RestoreHookRun r2-hooks in config/samples")
	}
	err = c.Create(ctx, sample.DeepCopy())
	if err == nil || !strings.Contains(err.Error(), runWebhookName) {
		t.Errorf("creating a RestoreHookRun with no manager running returned %v, want a refusal by %s", err, runWebhookName)
	}
	for _, podLabels := range []map[string]string{{restoreLabel: "r2"}, {"app": "web"}} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "pod-", Namespace: "apps", Labels: podLabels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
		}
		if err := c.Create(ctx, pod); err != nil {
			t.Errorf("creating a pod labelled %v with no manager running: %v (the pod webhook must never block a restore)", podLabels, err)
		}
	}

	// helm upgrade with other values: the certificate and the CA the webhooks trust do not change.
	upgrade := action.NewUpgrade(helmCfg)
	upgrade.Namespace = namespace
	upgrade.WaitStrategy = kube.HookOnlyStrategy
	upgrade.Timeout = 2 * time.Minute
	if _, err := upgrade.RunWithContext(ctx, chartReleaseName, ch, values("replicas", 1, "exec.maxConcurrent", 32)); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 1 || !slices.Contains(container(dep).Args, "--max-concurrent-execs=32") {
		t.Errorf("upgraded Deployment: replicas %d, args %v; want 1 and --max-concurrent-execs=32", *dep.Spec.Replicas, container(dep).Args)
	}
	certAfter := installedCert(ctx, t, c)
	if !bytes.Equal(certBefore.crt, certAfter.crt) || !bytes.Equal(certBefore.key, certAfter.key) || !bytes.Equal(certBefore.ca, certAfter.ca) {
		t.Errorf("helm upgrade replaced the webhook certificate; it must be reused (lookup)")
	}

	// helm uninstall removes what the chart installed (Helm never deletes what crds/ installed).
	uninstall := action.NewUninstall(helmCfg)
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	uninstall.Timeout = 2 * time.Minute
	if _, err := uninstall.Run(chartReleaseName); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	for _, o := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: deploymentName}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: webhookSecret}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: validatingName}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: mutatingName}},
	} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("after helm uninstall, getting %T %s returned %v, want NotFound", o, o.GetName(), err)
		}
	}

	// The cert-manager mode: every object but cert-manager's passes the API server's validation.
	objs := rendered(t, renderChartCertManager)
	skipped := 0
	for _, o := range objs {
		if o.GroupVersionKind().Group == certManagerName {
			skipped++ // shape checked by checkCertificates in TestChartMatchesKustomize
			continue
		}
		if err := apply(ctx, c, o, true); err != nil {
			t.Errorf("the API server rejects the cert-manager mode's %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	if skipped != 2 {
		t.Errorf("skipped %d cert-manager objects, want 2 (Certificate, Issuer)", skipped)
	}
}

type servingCert struct{ crt, key, ca []byte }

// installedCert returns the webhook certificate the chart installed, after checking that it serves the
// webhook Service's DNS name under the CA both webhook configurations carry.
func installedCert(ctx context.Context, t *testing.T, c client.Client) servingCert {
	t.Helper()
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: webhookSecret}, s); err != nil {
		t.Fatalf("getting the webhook certificate Secret: %v", err)
	}
	cert := servingCert{crt: s.Data["tls.crt"], key: s.Data["tls.key"], ca: s.Data["ca.crt"]}
	if err := verifyServingCert(cert.crt, cert.key, cert.ca, webhookServiceName+"."+namespace+".svc"); err != nil {
		t.Errorf("Secret %s: %v", webhookSecret, err)
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: mutatingName}, mwc); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: validatingName}, vwc); err != nil {
		t.Fatal(err)
	}
	var bundles [][]byte
	for _, w := range mwc.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, w := range vwc.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for i, b := range bundles {
		if !bytes.Equal(b, cert.ca) {
			t.Errorf("webhook %d: caBundle is not the Secret's ca.crt", i)
		}
	}
	return cert
}

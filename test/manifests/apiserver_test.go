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
	"context"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
)

const fieldOwner = "restore-hook-operator-manifests-test"

// TestAPIServerAcceptsRenderedManifests server-side applies everything config/default renders, plus the
// samples, to a real kube-apiserver (envtest, with this project's CRDs and Velero's Restore CRD), so the
// API server's own validation (schemas, CRD structural rules, webhook configuration and RBAC validation)
// judges the manifests. Namespaces are created for real, because a dry-run create in a missing namespace
// fails; everything else is a dry run, so nothing (in particular no webhook configuration pointing at a
// manager that is not running) is persisted. cert-manager's kinds are skipped: their CRDs are not
// available offline; checkCertificates checks their shape instead.
func TestAPIServerAcceptsRenderedManifests(t *testing.T) {
	objs := rendered(t, renderDefault)
	all := append(objs, rendered(t, renderSamples)...)

	env, err := localcluster.NewEnvironment()
	if err != nil {
		t.Fatalf("envtest (set KUBEBUILDER_ASSETS or run 'make envtest'): %v", err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
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

	// Namespaces first, for real; then CRDs, so the custom resources after them are known; then the rest.
	var namespaces, crds, rest []*unstructured.Unstructured
	skipped := 0
	for _, o := range all {
		switch {
		case o.GroupVersionKind().Group == certManagerName:
			t.Logf("Not applying %s %s/%s: cert-manager's CRDs are not installed (shape checked by checkCertificates)",
				o.GetKind(), o.GetNamespace(), o.GetName())
			skipped++
		case o.GetKind() == "Namespace":
			namespaces = append(namespaces, o)
		case o.GetKind() == "CustomResourceDefinition":
			crds = append(crds, o)
		default:
			rest = append(rest, o)
		}
	}
	if skipped != 2 {
		t.Errorf("skipped %d cert-manager objects, want 2 (Certificate, Issuer)", skipped)
	}
	if len(namespaces) != 1 || len(crds) != 2 {
		t.Fatalf("rendered %d Namespaces and %d CRDs, want 1 Namespace and 2 CRDs (runs, policies)", len(namespaces), len(crds))
	}
	// The samples live in Velero's namespace, which Velero's own install creates.
	velero := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "velero"},
	}}
	for _, ns := range append(namespaces, velero) {
		if err := apply(ctx, c, ns, false); err != nil {
			t.Fatalf("creating Namespace %s: %v", ns.GetName(), err)
		}
	}
	for _, o := range append(crds, rest...) {
		if err := apply(ctx, c, o, true); err != nil {
			t.Errorf("the API server rejects %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}

	// A dry run persists nothing: the Deployment does not exist afterwards.
	dep := &unstructured.Unstructured{}
	dep.SetAPIVersion("apps/v1")
	dep.SetKind("Deployment")
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, dep); !apierrors.IsNotFound(err) {
		t.Errorf("after a dry run, getting the Deployment returned %v, want NotFound", err)
	}

	// The dry run is validating (and strict about unknown fields): each broken copy must be rejected.
	for name, tc := range map[string]struct {
		kind, name string
		change     func(t *testing.T, u *unstructured.Unstructured)
	}{
		"deployment with an impossible port": {"Deployment", deploymentName, func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, []any{map[string]any{"containerPort": int64(70000)}}, "spec", "template", "spec", "containers", "0", "ports")
		}},
		"pod webhook with a bogus selector operator": {"MutatingWebhookConfiguration", mutatingName, func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, "Bogus", "webhooks", "0", "objectSelector", "matchExpressions", "0", "operator")
		}},
		"role binding to no role kind": {"ClusterRoleBinding", namePrefix + "manager-rolebinding", func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, "Deployment", "roleRef", "kind")
		}},
		"deployment with an unknown field": {"Deployment", deploymentName, func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, true, "spec", "template", "spec", "containers", "0", "readOnlyRootFileSystem")
		}},
		"policy sample keeping a negative history": {"RestoreHookPolicy", "postgres-dr", func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, int64(-1), "spec", "runsHistoryLimit")
		}},
		"policy sample whose template names a Restore": {"RestoreHookPolicy", "postgres-dr", func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, map[string]any{"name": "r1"}, "spec", "template", "spec", "restoreRef")
		}},
		"sample with an unknown field": {"RestoreHookRun", "r2-hooks", func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, "1m", "spec", "hooks", "resources", "0", "postHooks", "0", "exec", "execTimeOut")
		}},
		"sample with an unknown onError": {"RestoreHookRun", "r2-hooks", func(t *testing.T, u *unstructured.Unstructured) {
			setIn(t, u, "Sometimes", "spec", "hooks", "resources", "0", "postHooks", "0", "exec", "onError")
		}},
	} {
		t.Run(name, func(t *testing.T) {
			src := find(all, tc.kind, tc.name)
			if src == nil {
				t.Fatalf("no %s %s rendered", tc.kind, tc.name)
			}
			u := src.DeepCopy()
			tc.change(t, u)
			if err := apply(ctx, c, u, true); !rejected(err) {
				t.Errorf("dry-run apply of a broken %s returned %v, want it rejected", tc.kind, err)
			}
		})
	}
}

// rejected reports whether the API server refused an object for what it is: Invalid for a failed
// validation; for a field the schema does not declare, server-side apply answers 500 "field not declared
// in schema" (or 400 where the API server classifies it).
func rejected(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		(apierrors.IsInternalError(err) && strings.Contains(err.Error(), "field not declared in schema"))
}

// apply server-side applies u, as `kubectl apply --server-side` (make deploy) does.
func apply(ctx context.Context, c client.Client, u *unstructured.Unstructured, dryRun bool) error {
	opts := []client.ApplyOption{client.FieldOwner(fieldOwner), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...)
}

// setIn sets value at path in u, where a numeric path element indexes a list.
func setIn(t *testing.T, u *unstructured.Unstructured, value any, path ...string) {
	t.Helper()
	var cur any = u.Object
	for i, key := range path {
		last := i == len(path)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				node[key] = value
				return
			}
			cur = node[key]
		case []any:
			idx, err := strconv.Atoi(key)
			if err != nil || idx < 0 || idx >= len(node) {
				t.Fatalf("path %v: %q is not an index of a list of %d", path, key, len(node))
			}
			if last {
				node[idx] = value
				return
			}
			cur = node[idx]
		default:
			t.Fatalf("path %v: nothing at %q", path, key)
		}
	}
}

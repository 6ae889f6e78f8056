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

package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	"github.com/vmware-tanzu/velero/pkg/label"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
	"github.com/restorehooks/restore-hook-operator/internal/scope"
)

// testRunIndex stands in for controllers.RunRestoreLabelIndex (this package cannot import controllers).
const testRunIndex = "restorehooks.io/restore-label"

func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, velerov1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fakeReader is a fake client with the run index the manager registers, wrapped by funcs.
func fakeReader(t testing.TB, funcs interceptor.Funcs, objs ...client.Object) client.Client {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).
		WithIndex(&v1alpha1.RestoreHookRun{}, testRunIndex, func(o client.Object) []string {
			return []string{label.GetValidName(o.(*v1alpha1.RestoreHookRun).Spec.RestoreRef.Name)}
		}).Build()
	return interceptor.NewClient(c, funcs)
}

func podRequest(t testing.TB, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: pod.Namespace, Object: runtime.RawExtension{Raw: raw}}}
}

func labelledPod(restore string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "p", Labels: map[string]string{velerov1.RestoreNameLabel: restore}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
	}
}

func newMutator(t testing.TB, r client.Reader) *PodMutator {
	return &PodMutator{Reader: r, Decoder: admission.NewDecoder(testScheme(t)), Scope: scope.New("velero"),
		RunIndex: testRunIndex, VeleroNamespace: "velero"}
}

// Issue 19 item 3: one restored pod's admission must not copy every run in the cluster.
func TestPodMutatorListsThroughTheIndexWithoutCopies(t *testing.T) {
	var lists [][]client.ListOption
	r := fakeReader(t, interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		if _, ok := list.(*v1alpha1.RestoreHookRunList); ok {
			lists = append(lists, opts)
		}
		return c.List(ctx, list, opts...)
	}})
	resp := newMutator(t, r).Handle(context.Background(), podRequest(t, labelledPod("r1")))
	if !resp.Allowed {
		t.Fatalf("pod denied: %v", resp.Result)
	}
	if len(lists) != 1 {
		t.Fatalf("want one List of runs, got %d", len(lists))
	}
	opts := (&client.ListOptions{}).ApplyOptions(lists[0])
	if opts.FieldSelector == nil || opts.FieldSelector.String() != testRunIndex+"=r1" {
		t.Errorf("runs listed with field selector %v, want the restore-label index %s=r1", opts.FieldSelector, testRunIndex)
	}
	if opts.UnsafeDisableDeepCopy == nil || !*opts.UnsafeDisableDeepCopy {
		t.Errorf("runs listed with deep copies (UnsafeDisableDeepCopy not set)")
	}
}

// The pod webhook never denies a pod: an answer of allowed=false is a rejection whatever the
// failurePolicy, and Velero would lose the pod from the restore.
func TestPodMutatorNeverDenies(t *testing.T) {
	failingList := interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errors.New("etcdserver: request timed out")
	}}
	cases := map[string]struct {
		reader client.Reader
		req    admission.Request
		want   string
	}{
		"listing runs fails": {
			reader: fakeReader(t, failingList),
			req:    podRequest(t, labelledPod("r1")),
			want:   "etcdserver: request timed out",
		},
		"the pod does not decode": {
			reader: fakeReader(t, interceptor.Funcs{}),
			req: admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
				Namespace: "app", Object: runtime.RawExtension{Raw: []byte(`{"kind":"Pod","spec":"not a spec"}`)}}},
			want: "decoding",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp := newMutator(t, tc.reader).Handle(context.Background(), tc.req)
			if !resp.Allowed {
				t.Fatalf("pod denied (%v); the pod webhook must admit it unchanged", resp.Result)
			}
			if len(resp.Patches) != 0 {
				t.Errorf("pod changed on an internal error: %v", resp.Patches)
			}
			if len(resp.Warnings) == 0 || !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.want) {
				t.Errorf("warnings %q do not say %q", resp.Warnings, tc.want)
			}
		})
	}
}

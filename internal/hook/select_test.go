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

package hook

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func TestNamespaceMatches(t *testing.T) {
	tests := map[string]struct {
		namespace          string
		included, excluded []string
		want               bool
	}{
		"no includes means all":                   {namespace: "anything", want: true},
		"empty includes slice means all":          {namespace: "anything", included: []string{}, want: true},
		"star includes all":                       {namespace: "anything", included: []string{"*"}, want: true},
		"star among others includes all":          {namespace: "anything", included: []string{"other", "*"}, want: true},
		"exact include":                           {namespace: "app", included: []string{"app"}, want: true},
		"not included":                            {namespace: "web", included: []string{"app"}, want: false},
		"glob include":                            {namespace: "default", included: []string{"def*"}, want: true},
		"glob is anchored":                        {namespace: "nodefault", included: []string{"def*"}, want: false},
		"question mark glob":                      {namespace: "app1", included: []string{"app?"}, want: true},
		"character class glob":                    {namespace: "app2", included: []string{"app[0-9]"}, want: true},
		"alternatives glob":                       {namespace: "web", included: []string{"{app,web}"}, want: true},
		"exclude wins over include":               {namespace: "app", included: []string{"app"}, excluded: []string{"app"}, want: false},
		"exclude wins over star":                  {namespace: "kube-system", included: []string{"*"}, excluded: []string{"kube-*"}, want: false},
		"exclude with no includes":                {namespace: "kube-system", excluded: []string{"kube-system"}, want: false},
		"other namespaces survive an exclude":     {namespace: "app", excluded: []string{"kube-*"}, want: true},
		"uncompilable include matches nothing":    {namespace: "[", included: []string{"["}, want: false},
		"uncompilable include does not hide next": {namespace: "app", included: []string{"[", "app"}, want: true},
		"uncompilable exclude excludes nothing":   {namespace: "app", excluded: []string{"["}, want: true},
		"uncompilable exclude does not hide next": {namespace: "app", excluded: []string{"[", "app"}, want: false},
		"empty-string include matches no real ns": {namespace: "app", included: []string{""}, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NamespaceMatches(tc.namespace, tc.included, tc.excluded); got != tc.want {
				t.Errorf("NamespaceMatches(%q, %q, %q) = %v, want %v", tc.namespace, tc.included, tc.excluded, got, tc.want)
			}
		})
	}
}

func TestSpecApplies(t *testing.T) {
	tests := map[string]struct {
		pod  *corev1.Pod
		rs   v1alpha1.RestoreResourceHookSpec
		want bool
	}{
		"empty spec selects every pod": {pod: newPod(), want: true},
		"nil pod":                      {pod: nil, want: false},
		"target namespace included":    {pod: newPod(inNamespace("app-restored")), rs: v1alpha1.RestoreResourceHookSpec{IncludedNamespaces: []string{"app-*"}}, want: true},
		"target namespace not included": {
			pod: newPod(inNamespace("web")), rs: v1alpha1.RestoreResourceHookSpec{IncludedNamespaces: []string{"app"}}, want: false,
		},
		"target namespace excluded": {
			pod: newPod(), rs: v1alpha1.RestoreResourceHookSpec{ExcludedNamespaces: []string{"app"}}, want: false,
		},
		"matchLabels match": {
			pod: newPod(), rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}}}, want: true,
		},
		"matchLabels mismatch": {
			pod: newPod(), rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mysql"}}}, want: false,
		},
		"matchLabels on an unlabelled pod": {
			pod: newPod(withLabels(nil)), rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}}}, want: false,
		},
		"matchExpressions In": {
			pod: newPod(),
			rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"mysql", "postgres"}},
			}}},
			want: true,
		},
		"matchExpressions DoesNotExist": {
			pod: newPod(),
			rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist},
			}}},
			want: false,
		},
		"empty selector selects every pod": {
			pod: newPod(withLabels(nil)), rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{}}, want: true,
		},
		"unparsable selector selects nothing": {
			pod: newPod(),
			rs: v1alpha1.RestoreResourceHookSpec{LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: "Bogus", Values: []string{"postgres"}},
			}}},
			want: false,
		},
		"namespace and labels must both match": {
			pod: newPod(inNamespace("web")),
			rs: v1alpha1.RestoreResourceHookSpec{
				IncludedNamespaces: []string{"app"},
				LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
			},
			want: false,
		},
		"resource filters are not consulted": {
			pod: newPod(), rs: v1alpha1.RestoreResourceHookSpec{IncludedResources: []string{"deployments"}, ExcludedResources: []string{"pods"}}, want: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := SpecApplies(tc.pod, tc.rs); got != tc.want {
				t.Errorf("SpecApplies = %v, want %v", got, tc.want)
			}
		})
	}
}

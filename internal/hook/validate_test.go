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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// fieldErr is the part of a field.Error a test pins exactly; detail fragments are checked separately.
type fieldErr struct {
	Type     field.ErrorType
	Field    string
	BadValue any
}

// validSpec is a spec exercising every kind of hook that ValidateSpec must accept.
func validSpec() *v1alpha1.RestoreHookRunSpec {
	return &v1alpha1.RestoreHookRunSpec{
		RestoreRef:        v1alpha1.RestoreReference{Name: "r1", Namespace: "velero"},
		PodAnnotations:    v1alpha1.PodAnnotationsHonor,
		MaxWait:           dur(time.Hour),
		MaxConcurrentPods: 3,
		Hooks: v1alpha1.RestoreHooks{Resources: []v1alpha1.RestoreResourceHookSpec{
			{
				Name:               "restore-hook-1",
				IncludedNamespaces: []string{"app", "team-*"},
				ExcludedNamespaces: []string{"kube-*"},
				IncludedResources:  []string{"pods"},
				LabelSelector: &metav1.LabelSelector{
					MatchLabels:      map[string]string{"app": "postgres"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"db"}}},
				},
				PostHooks: []v1alpha1.RestoreResourceHook{
					{Init: &v1alpha1.InitRestoreHook{
						InitContainers: []corev1.Container{{Name: "restore-hook-init1", Image: "alpine:3.20", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
						Timeout:        dur(2 * time.Minute),
					}},
					{Exec: &v1alpha1.ExecRestoreHook{
						Container: "postgres", Command: []string{"/bin/bash", "-c", "pg_isready"}, OnError: v1alpha1.HookErrorModeFail,
						ExecTimeout: dur(time.Minute), WaitTimeout: dur(0), WaitForReady: ptr.To(true), Retries: ptr.To[int32](2), RetryDelay: dur(5 * time.Second),
					}},
				},
			},
			{
				Name:              "restore-hook-2",
				IncludedResources: []string{"deployments", "po"},
				ExcludedResources: []string{"services"},
				PostHooks: []v1alpha1.RestoreResourceHook{
					{Init: &v1alpha1.InitRestoreHook{InitContainers: []corev1.Container{{Name: "restore-hook-init2", Image: "alpine:3.20"}}}},
					execHook("", "date"),
				},
			},
		}},
	}
}

func TestValidateSpec(t *testing.T) {
	edit := func(f func(s *v1alpha1.RestoreHookRunSpec)) *v1alpha1.RestoreHookRunSpec {
		s := validSpec()
		f(s)
		return s
	}
	r0 := "spec.hooks.resources[0]"
	r1 := "spec.hooks.resources[1]"
	tests := map[string]struct {
		spec       *v1alpha1.RestoreHookRunSpec
		want       []fieldErr
		wantDetail []string
	}{
		"valid spec":                           {spec: validSpec()},
		"empty spec fields that have defaults": {spec: &v1alpha1.RestoreHookRunSpec{RestoreRef: v1alpha1.RestoreReference{Name: "r"}}},
		"includedResources with * is fine": {spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
			s.Hooks.Resources[0].IncludedResources = []string{"*"}
		})},
		"includedResources with pod is fine": {spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
			s.Hooks.Resources[0].IncludedResources = []string{"deployments", "pod"}
		})},
		"nil spec": {spec: nil, want: []fieldErr{{field.ErrorTypeRequired, "spec", ""}}},
		"restoreRef.name required": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.RestoreRef.Name = "" }),
			want: []fieldErr{{field.ErrorTypeRequired, "spec.restoreRef.name", ""}},
		},
		"unknown podAnnotations": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.PodAnnotations = "honor" }),
			want: []fieldErr{{field.ErrorTypeNotSupported, "spec.podAnnotations", v1alpha1.PodAnnotationPolicy("honor")}},
		},
		"negative maxWait": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.MaxWait = dur(-time.Second) }),
			want: []fieldErr{{field.ErrorTypeInvalid, "spec.maxWait", "-1s"}},
		},
		"negative maxConcurrentPods": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.MaxConcurrentPods = -1 }),
			want: []fieldErr{{field.ErrorTypeInvalid, "spec.maxConcurrentPods", int32(-1)}},
		},
		"hook spec without a name": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[1].Name = "" }),
			want: []fieldErr{{field.ErrorTypeRequired, r1 + ".name", ""}},
		},
		"label selector that does not parse": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus", Values: []string{"x"}}}}
			}),
			want:       []fieldErr{{field.ErrorTypeInvalid, r0 + ".labelSelector", `{"matchExpressions":[{"key":"app","operator":"Bogus","values":["x"]}]}`}},
			wantDetail: []string{`"Bogus" is not a valid label selector operator`},
		},
		"label selector with an invalid label value": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[1].LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "no spaces allowed"}}
			}),
			want: []fieldErr{{field.ErrorTypeInvalid, r1 + ".labelSelector", `{"matchLabels":{"app":"no spaces allowed"}}`}},
		},
		"included namespace glob that does not compile": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].IncludedNamespaces = []string{"app", "team-["}
			}),
			want:       []fieldErr{{field.ErrorTypeInvalid, r0 + ".includedNamespaces[1]", "team-["}},
			wantDetail: []string{"glob"},
		},
		"excluded namespace glob that does not compile": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[1].ExcludedNamespaces = []string{"[]"} }),
			want: []fieldErr{{field.ErrorTypeInvalid, r1 + ".excludedNamespaces[0]", "[]"}},
		},
		"includedResources without pods": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].IncludedResources = []string{"deployments", "statefulsets"}
			}),
			want:       []fieldErr{{field.ErrorTypeInvalid, r0 + ".includedResources", "deployments,statefulsets"}},
			wantDetail: []string{"would never run"},
		},
		"excludedResources with pods": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[1].ExcludedResources = []string{"services", "pods"}
			}),
			want:       []fieldErr{{field.ErrorTypeInvalid, r1 + ".excludedResources[1]", "pods"}},
			wantDetail: []string{"would never run"},
		},
		"excludedResources with *": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[1].ExcludedResources = []string{"*"} }),
			want: []fieldErr{{field.ErrorTypeInvalid, r1 + ".excludedResources[0]", "*"}},
		},
		"post hook with neither exec nor init": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[1].PostHooks[1] = v1alpha1.RestoreResourceHook{}
			}),
			want: []fieldErr{{field.ErrorTypeRequired, r1 + ".postHooks[1]", ""}},
		},
		"post hook with both exec and init": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[1].PostHooks[1].Init = &v1alpha1.InitRestoreHook{InitContainers: []corev1.Container{{Name: "extra", Image: "x"}}}
			}),
			want:       []fieldErr{{field.ErrorTypeForbidden, r1 + ".postHooks[1]", ""}},
			wantDetail: []string{"exactly one of exec or init"},
		},
		"exec command empty": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[0].PostHooks[1].Exec.Command = nil }),
			want: []fieldErr{{field.ErrorTypeRequired, r0 + ".postHooks[1].exec.command", ""}},
		},
		"exec onError not Continue or Fail": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[0].PostHooks[1].Exec.OnError = "fail" }),
			want: []fieldErr{{field.ErrorTypeNotSupported, r0 + ".postHooks[1].exec.onError", v1alpha1.HookErrorMode("fail")}},
		},
		"exec negative durations and retries": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				e := s.Hooks.Resources[0].PostHooks[1].Exec
				e.ExecTimeout, e.WaitTimeout, e.RetryDelay, e.Retries = dur(-time.Second), dur(-time.Minute), dur(-time.Millisecond), ptr.To[int32](-1)
			}),
			want: []fieldErr{
				{field.ErrorTypeInvalid, r0 + ".postHooks[1].exec.execTimeout", "-1s"},
				{field.ErrorTypeInvalid, r0 + ".postHooks[1].exec.waitTimeout", "-1m0s"},
				{field.ErrorTypeInvalid, r0 + ".postHooks[1].exec.retryDelay", "-1ms"},
				{field.ErrorTypeInvalid, r0 + ".postHooks[1].exec.retries", int32(-1)},
			},
		},
		"init negative timeout": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) { s.Hooks.Resources[0].PostHooks[0].Init.Timeout = dur(-time.Hour) }),
			want: []fieldErr{{field.ErrorTypeInvalid, r0 + ".postHooks[0].init.timeout", "-1h0m0s"}},
		},
		"init container without name or image": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].PostHooks[0].Init.InitContainers = []corev1.Container{{Command: []string{"x"}}}
			}),
			want: []fieldErr{
				{field.ErrorTypeRequired, r0 + ".postHooks[0].init.initContainers[0].name", ""},
				{field.ErrorTypeRequired, r0 + ".postHooks[0].init.initContainers[0].image", ""},
			},
		},
		"init container name that is not a DNS label": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].PostHooks[0].Init.InitContainers[0].Name = "Init_1"
			}),
			want: []fieldErr{{field.ErrorTypeInvalid, r0 + ".postHooks[0].init.initContainers[0].name", "Init_1"}},
		},
		"init container names unique within one hook": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].PostHooks[0].Init.InitContainers = append(s.Hooks.Resources[0].PostHooks[0].Init.InitContainers,
					corev1.Container{Name: "restore-hook-init1", Image: "busybox"})
			}),
			want:       []fieldErr{{field.ErrorTypeDuplicate, r0 + ".postHooks[0].init.initContainers[1].name", "restore-hook-init1"}},
			wantDetail: []string{r0 + ".postHooks[0].init.initContainers[0].name"},
		},
		"init container names unique across the whole run": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[1].PostHooks[0].Init.InitContainers[0].Name = "restore-hook-init1"
			}),
			want:       []fieldErr{{field.ErrorTypeDuplicate, r1 + ".postHooks[0].init.initContainers[0].name", "restore-hook-init1"}},
			wantDetail: []string{r0 + ".postHooks[0].init.initContainers[0].name"},
		},
		"several problems are all reported": {
			spec: edit(func(s *v1alpha1.RestoreHookRunSpec) {
				s.Hooks.Resources[0].IncludedNamespaces = []string{"["}
				s.Hooks.Resources[1].PostHooks[1].Exec.Command = []string{}
			}),
			want: []fieldErr{
				{field.ErrorTypeInvalid, r0 + ".includedNamespaces[0]", "["},
				{field.ErrorTypeRequired, r1 + ".postHooks[1].exec.command", ""},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateSpec(tc.spec, field.NewPath("spec"))
			var got []fieldErr
			for _, e := range errs {
				got = append(got, fieldErr{Type: e.Type, Field: e.Field, BadValue: e.BadValue})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ValidateSpec mismatch (-want +got):\n%s\nerrors: %v", diff, errs.ToAggregate())
			}
			all := errs.ToAggregate()
			for _, d := range tc.wantDetail {
				if all == nil || !strings.Contains(all.Error(), d) {
					t.Errorf("errors %v do not mention %q", all, d)
				}
			}
		})
	}
}

func TestReachableNamespaces(t *testing.T) {
	ns := func(inc ...string) v1alpha1.RestoreResourceHookSpec {
		return v1alpha1.RestoreResourceHookSpec{Name: "h", IncludedNamespaces: inc}
	}
	tests := map[string]struct {
		spec         *v1alpha1.RestoreHookRunSpec
		wantPatterns []string
		wantAll      bool
	}{
		"specs with includes, annotations ignored": {
			spec:         ignoreAnnotations(resources(ns("app", "team-*"), ns("web", "app"))),
			wantPatterns: []string{"app", "team-*", "web"},
		},
		"a spec without includes reaches all": {
			spec:         ignoreAnnotations(resources(ns("app"), ns())),
			wantPatterns: []string{"app"}, wantAll: true,
		},
		"an include of * reaches all": {
			spec:         ignoreAnnotations(resources(ns("app"), ns("*"))),
			wantPatterns: []string{"app", "*"}, wantAll: true,
		},
		"no specs: annotation hooks can be anywhere": {
			spec:    resources(),
			wantAll: true,
		},
		"no specs and annotations ignored still counts as all": {
			spec:    ignoreAnnotations(resources()),
			wantAll: true,
		},
		"honoured annotations reach every pod of the restore": {
			spec:         resources(ns("app")),
			wantPatterns: []string{"app"}, wantAll: true,
		},
		"excludes do not narrow the answer": {
			spec:         ignoreAnnotations(resources(v1alpha1.RestoreResourceHookSpec{Name: "h", IncludedNamespaces: []string{"app"}, ExcludedNamespaces: []string{"app"}})),
			wantPatterns: []string{"app"},
		},
		"nil spec": {spec: nil, wantAll: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			patterns, all := ReachableNamespaces(tc.spec)
			if diff := cmp.Diff(tc.wantPatterns, patterns); diff != "" {
				t.Errorf("patterns mismatch (-want +got):\n%s", diff)
			}
			if all != tc.wantAll {
				t.Errorf("all = %v, want %v", all, tc.wantAll)
			}
		})
	}
}

func TestValidateDependencies(t *testing.T) {
	entry := func(name string, deps ...string) v1alpha1.RestoreResourceHookSpec {
		return v1alpha1.RestoreResourceHookSpec{Name: name, DependsOn: deps}
	}
	tests := map[string]struct {
		resources []v1alpha1.RestoreResourceHookSpec
		want      []string // "path: detail"
	}{
		"no dependencies": {resources: []v1alpha1.RestoreResourceHookSpec{entry("a"), entry("b")}},
		"a chain":         {resources: []v1alpha1.RestoreResourceHookSpec{entry("db"), entry("migrate", "db"), entry("warm", "migrate")}},
		"a diamond":       {resources: []v1alpha1.RestoreResourceHookSpec{entry("a"), entry("b", "a"), entry("c", "a"), entry("d", "b", "c")}},
		"declared later":  {resources: []v1alpha1.RestoreResourceHookSpec{entry("app", "db"), entry("db")}},
		"a shared name":   {resources: []v1alpha1.RestoreResourceHookSpec{entry("db"), entry("db"), entry("app", "db")}},
		"a repeated name": {resources: []v1alpha1.RestoreResourceHookSpec{entry("db"), entry("app", "db", "db")}},
		"an unknown name": {
			resources: []v1alpha1.RestoreResourceHookSpec{entry("db"), entry("app", "dbb")},
			want:      []string{`spec.hooks.resources[1].dependsOn[0]: no entry of spec.hooks.resources is named "dbb" (dependsOn names entries of the same run)`},
		},
		"itself": {
			resources: []v1alpha1.RestoreResourceHookSpec{entry("db", "db")},
			want:      []string{`spec.hooks.resources[0].dependsOn[0]: entry "db" cannot depend on itself`},
		},
		"a two-cycle": {
			resources: []v1alpha1.RestoreResourceHookSpec{entry("a", "b"), entry("b", "a")},
			want:      []string{"spec.hooks.resources[0].dependsOn: dependsOn has a cycle: a → b → a"},
		},
		"a longer cycle behind a chain": {
			resources: []v1alpha1.RestoreResourceHookSpec{entry("x"), entry("a", "x", "b"), entry("b", "c"), entry("c", "a")},
			want:      []string{"spec.hooks.resources[1].dependsOn: dependsOn has a cycle: a → b → c → a"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateDependencies(tc.resources, field.NewPath("spec", "hooks", "resources")) {
				got = append(got, e.Field+": "+e.Detail)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

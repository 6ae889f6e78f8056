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

package scope

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

func hooksIn(included ...[]string) v1alpha1.RestoreHooks {
	var h v1alpha1.RestoreHooks
	for i, inc := range included {
		h.Resources = append(h.Resources, v1alpha1.RestoreResourceHookSpec{Name: string(rune('a' + i)), IncludedNamespaces: inc})
	}
	return h
}

func TestMayTouch(t *testing.T) {
	s := New("velero", "ops")
	tests := map[string]struct {
		run, target string
		want        bool
	}{
		"own namespace":               {run: "app", target: "app", want: true},
		"another namespace":           {run: "app", target: "db", want: false},
		"admin namespace reaches all": {run: "velero", target: "db", want: true},
		"second admin namespace":      {run: "ops", target: "kube-system", want: true},
		"admin's own namespace":       {run: "velero", target: "velero", want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := s.MayTouch(tc.run, tc.target); got != tc.want {
				t.Errorf("MayTouch(%q, %q) = %v, want %v", tc.run, tc.target, got, tc.want)
			}
		})
	}
}

func TestOutOfScope(t *testing.T) {
	s := New("velero")
	tests := map[string]struct {
		namespace string
		hooks     v1alpha1.RestoreHooks
		want      []string
	}{
		"no entries":                     {namespace: "app", hooks: hooksIn(), want: nil},
		"empty list means own":           {namespace: "app", hooks: hooksIn(nil), want: nil},
		"wildcard means own":             {namespace: "app", hooks: hooksIn([]string{"*"}), want: nil},
		"own namespace named":            {namespace: "app", hooks: hooksIn([]string{"app"}), want: nil},
		"other namespaces once, ordered": {namespace: "app", hooks: hooksIn([]string{"db", "app"}, []string{"cache", "db"}), want: []string{"db", "cache"}},
		"glob naming others":             {namespace: "app", hooks: hooksIn([]string{"app-*"}), want: []string{"app-*"}},
		"admin namespace reaches any":    {namespace: "velero", hooks: hooksIn([]string{"db", "*"}), want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, s.OutOfScope(tc.namespace, tc.hooks)); diff != "" {
				t.Errorf("OutOfScope (-want +got):\n%s", diff)
			}
		})
	}
}

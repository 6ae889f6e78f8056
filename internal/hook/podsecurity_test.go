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

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"
)

func TestEnforcedPodSecurity(t *testing.T) {
	v134, _ := psapi.ParseVersion("v1.34")
	cases := map[string]struct {
		labels map[string]string
		want   psapi.LevelVersion
	}{
		"unlabelled: baseline":      {nil, psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}},
		"other labels: baseline":    {map[string]string{"team": "a"}, psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}},
		"privileged":                {map[string]string{psapi.EnforceLevelLabel: "privileged"}, psapi.LevelVersion{Level: psapi.LevelPrivileged, Version: psapi.LatestVersion()}},
		"restricted with version":   {map[string]string{psapi.EnforceLevelLabel: "restricted", psapi.EnforceVersionLabel: "v1.34"}, psapi.LevelVersion{Level: psapi.LevelRestricted, Version: v134}},
		"bogus level: restricted":   {map[string]string{psapi.EnforceLevelLabel: "lax"}, psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}},
		"warn only: still baseline": {map[string]string{psapi.WarnLevelLabel: "restricted"}, psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := EnforcedPodSecurity(tc.labels); got != tc.want {
				t.Errorf("EnforcedPodSecurity(%v) = %s, want %s", tc.labels, got, tc.want)
			}
		})
	}
}

func TestCheckPodSecurity(t *testing.T) {
	baseline := psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}
	restricted := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	privileged := psapi.LevelVersion{Level: psapi.LevelPrivileged, Version: psapi.LatestVersion()}
	path := field.NewPath("spec", "hooks", "resources").Index(0).Child("postHooks").Index(1).Child("init", "initContainers").Index(0)
	plain := corev1.Container{Name: "prep", Image: "busybox", Command: []string{"true"}}
	with := func(edit func(*corev1.Container)) *corev1.Container {
		c := plain.DeepCopy()
		edit(c)
		return c
	}
	hardened := with(func(c *corev1.Container) {
		c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	})
	prefix := path.String() + "."
	cases := map[string]struct {
		lv         psapi.LevelVersion
		c          *corev1.Container
		wantFields []string
		wantDetail string
	}{
		"plain container, baseline": {lv: baseline, c: &plain},
		"privileged, baseline": {lv: baseline, c: with(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		}), wantFields: []string{prefix + "securityContext.privileged"}, wantDetail: "privileged"},
		"privileged, privileged namespace": {lv: privileged, c: with(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		})},
		"host port and SYS_ADMIN, baseline": {lv: baseline, c: with(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
			c.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}), wantFields: []string{prefix + "securityContext.capabilities.add", prefix + "ports"}, wantDetail: "SYS_ADMIN"},
		"plain container, restricted": {lv: restricted, c: &plain, wantFields: []string{
			prefix + "securityContext.allowPrivilegeEscalation", prefix + "securityContext.capabilities",
			prefix + "securityContext.runAsNonRoot", prefix + "securityContext.seccompProfile"}},
		"hardened container, restricted": {lv: restricted, c: hardened},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := CheckPodSecurity(tc.lv, tc.c, path)
			var fields []string
			for _, v := range got {
				fields = append(fields, v.Field)
			}
			if diff := cmp.Diff(tc.wantFields, fields); diff != "" {
				t.Errorf("violated fields (-want +got):\n%s\n%+v", diff, got)
			}
			if tc.wantDetail != "" && (len(got) == 0 || !strings.Contains(got[0].Detail, tc.wantDetail)) {
				t.Errorf("details %+v do not mention %q", got, tc.wantDetail)
			}
		})
	}
}

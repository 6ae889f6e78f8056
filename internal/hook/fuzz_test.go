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
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/restorehooks/restore-hook-operator/api/v1alpha1"
)

// FuzzParseAnnotations feeds arbitrary values for every hook annotation through the functions the
// reconciler and the webhook call, and checks the promises they make whatever users write: no panic,
// Velero's trigger rules, bounded messages, and an injection that is idempotent and never produces a pod
// the API server would reject for duplicate names. The seed corpus is in testdata/fuzz/FuzzParseAnnotations.
func FuzzParseAnnotations(f *testing.F) {
	f.Fuzz(func(t *testing.T, command, container, onError, execTimeout, waitTimeout, waitForReady, image, initName, initCommand, initTimeout string) {
		const maxWait = 10 * time.Minute
		pod := newPod(withContainers("app", "second"), withAnnotations(
			ExecCommandAnnotation, command, ExecContainerAnnotation, container, ExecOnErrorAnnotation, onError,
			ExecTimeoutAnnotation, execTimeout, ExecWaitTimeoutAnnotation, waitTimeout, ExecWaitForReadyAnnotation, waitForReady,
			InitContainerImageAnnotation, image, InitContainerNameAnnotation, initName, InitCommandAnnotation, initCommand,
			InitTimeoutAnnotation, initTimeout,
		), withInitContainers(ctr(RestoreWaitContainerName, "helper"), sidecar("proxy"), ctr("own", "own:1")))
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		spec := resources(v1alpha1.RestoreResourceHookSpec{Name: "h", PostHooks: []v1alpha1.RestoreResourceHook{
			execHook("", "spec-exec"), initHook(ctr("spec-init", "alpine", "/x")),
		}})

		for _, policy := range []v1alpha1.PodAnnotationPolicy{v1alpha1.PodAnnotationsHonor, v1alpha1.PodAnnotationsIgnore} {
			spec.PodAnnotations = policy
			honor := policy == v1alpha1.PodAnnotationsHonor

			execHooks := ResolveExecHooks(pod, spec, maxWait)
			if len(execHooks) != 1 {
				t.Fatalf("%s: got %d exec hooks, want exactly 1 (annotation or spec): %+v", policy, len(execHooks), execHooks)
			}
			wantSource := v1alpha1.HookSourceSpec
			if honor && command != "" {
				wantSource = v1alpha1.HookSourceAnnotation
			}
			if execHooks[0].Source != wantSource {
				t.Errorf("%s: exec hook source %s, want %s (command %q)", policy, execHooks[0].Source, wantSource, command)
			}
			for _, h := range execHooks {
				checkFuzzedProblem(t, h.Problem)
				if h.Problem == nil {
					if len(h.Command) == 0 || h.ExecTimeout <= 0 || h.WaitTimeout <= 0 || h.RetryDelay <= 0 {
						t.Errorf("runnable exec hook with unusable values: %+v", h)
					}
					if h.OnError != v1alpha1.HookErrorModeContinue && h.OnError != v1alpha1.HookErrorModeFail {
						t.Errorf("runnable exec hook with onError %q", h.OnError)
					}
				}
			}

			initHooks := ResolveInitHooks(pod, spec, maxWait)
			if len(initHooks) != 1 {
				t.Fatalf("%s: got %d init hooks, want exactly 1 (annotation or spec): %+v", policy, len(initHooks), initHooks)
			}
			wantSource = v1alpha1.HookSourceSpec
			if honor && image != "" {
				wantSource = v1alpha1.HookSourceAnnotation
			}
			if initHooks[0].Source != wantSource {
				t.Errorf("%s: init hook source %s, want %s (image %q)", policy, initHooks[0].Source, wantSource, image)
			}
			for _, h := range initHooks {
				checkFuzzedProblem(t, h.Problem)
				if h.Timeout <= 0 {
					t.Errorf("init hook with timeout %v", h.Timeout)
				}
			}

			result, injected := InjectInitContainers(pod.Spec.InitContainers, initHooks)
			if len(result) != len(pod.Spec.InitContainers)+len(injected) {
				t.Errorf("injected %q but the list grew from %d to %d", injected, len(pod.Spec.InitContainers), len(result))
			}
			names := map[string]bool{}
			for _, c := range append(slices.Clone(pod.Spec.Containers), result...) {
				if names[c.Name] {
					t.Errorf("container name %q twice after injection", c.Name)
				}
				names[c.Name] = true
			}
			if initHooks[0].Problem != nil && len(injected) != 0 {
				t.Errorf("hook with a problem was injected: %+v", initHooks[0])
			}
			if _, again := InjectInitContainers(result, initHooks); len(again) != 0 {
				t.Errorf("second injection injected %q", again)
			}
		}

		// A parsed command survives the trip through JSON, the form users are told to write. JSON can only
		// carry valid UTF-8, so other argvs are out of scope.
		argv, err := ParseCommand(command)
		if err == nil && argv != nil && allValidUTF8(argv) {
			checkRoundTrip(t, argv)
		}
		if parts := []string{command, container, onError, image, initName, initCommand}; allValidUTF8(parts) {
			checkRoundTrip(t, parts)
		}
	})
}

func checkFuzzedProblem(t *testing.T, p *Problem) {
	t.Helper()
	if p == nil {
		return
	}
	if p.Message == "" || len(p.Message) > MaxMessageLen {
		t.Errorf("problem message is %d bytes, want 1..%d: %q", len(p.Message), MaxMessageLen, p.Message)
	}
	if !utf8.ValidString(p.Message) {
		t.Errorf("problem message is not valid UTF-8: %q", p.Message)
	}
	if p.Reason != v1alpha1.ReasonInvalidAnnotation && p.Reason != v1alpha1.ReasonContainerNotFound {
		t.Errorf("unexpected problem reason %s", p.Reason)
	}
}

func checkRoundTrip(t *testing.T, argv []string) {
	t.Helper()
	b, err := json.Marshal(argv)
	if err != nil {
		t.Fatalf("marshal %q: %v", argv, err)
	}
	got, err := ParseCommand(string(b))
	if err != nil {
		t.Fatalf("ParseCommand(%s): %v", b, err)
	}
	if !slices.Equal(got, argv) || got == nil {
		t.Errorf("ParseCommand(%s) = %q, want %q", b, got, argv)
	}
}

func allValidUTF8(ss []string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

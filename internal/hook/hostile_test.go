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
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestMiBAnnotationValues gives every hook annotation a 1 MiB value, larger than the API server lets a
// pod carry (256 KiB of annotations in all): whatever reaches the parser, it answers with a bounded,
// valid UTF-8 message naming the key, or parses the value exactly.
func TestMiBAnnotationValues(t *testing.T) {
	const mib = 1 << 20
	values := map[string]string{
		"ascii":       strings.Repeat("x", mib),
		"unicode":     strings.Repeat("日本語🚀", mib/16),
		"invalid":     strings.Repeat("\xff\x00ü", mib/4),
		"json prefix": "[" + strings.Repeat(`"a",`, mib/4),
	}
	keys := []string{
		ExecCommandAnnotation, ExecContainerAnnotation, ExecOnErrorAnnotation, ExecTimeoutAnnotation,
		ExecWaitTimeoutAnnotation, ExecWaitForReadyAnnotation, InitContainerImageAnnotation,
		InitContainerNameAnnotation, InitCommandAnnotation, InitTimeoutAnnotation,
	}
	for kind, value := range values {
		for _, key := range keys {
			t.Run(kind+" "+key, func(t *testing.T) {
				ann := map[string]string{key: value}
				// The triggers, so every other key is read too.
				if key != ExecCommandAnnotation {
					ann[ExecCommandAnnotation] = "true"
				}
				if key != InitContainerImageAnnotation {
					ann[InitContainerImageAnnotation] = "busybox"
				}
				pod := newPod(withContainers("app"), withAnnotations(mapToKV(ann)...))
				for _, h := range ResolveExecHooks(pod, nil, time.Hour) {
					checkBounded(t, h.Problem, key)
				}
				for _, h := range ResolveInitHooks(pod, nil, time.Hour) {
					checkBounded(t, h.Problem, key)
				}
			})
		}
	}

	argv := []string{"/bin/sh", "-c", strings.Repeat("日本語 ", mib/10)}
	raw, err := json.Marshal(argv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCommand(string(raw))
	if err != nil || !slices.Equal(got, argv) {
		t.Errorf("a 1 MiB JSON command does not parse back to its argv: err %v", err)
	}
}

func checkBounded(t *testing.T, p *Problem, key string) {
	t.Helper()
	if p == nil {
		return
	}
	if len(p.Message) > MaxMessageLen || !utf8.ValidString(p.Message) {
		t.Errorf("message of %d bytes (valid UTF-8: %t), want at most %d", len(p.Message), utf8.ValidString(p.Message), MaxMessageLen)
	}
	if !strings.Contains(p.Message, key) {
		t.Errorf("message does not name %s: %.200q", key, p.Message)
	}
}

func mapToKV(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

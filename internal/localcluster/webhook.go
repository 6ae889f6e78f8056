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

package localcluster

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// RestoredPodSelector selects pods Velero labelled as restored: the pod webhook's objectSelector, which
// controller-gen markers cannot express (config/webhook adds it with a kustomize patch).
var RestoredPodSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
	Key: velerov1.RestoreNameLabel, Operator: metav1.LabelSelectorOpExists,
}}}

// PodWebhookName is the pod mutating webhook's name in config/webhook/manifests.yaml.
const PodWebhookName = "mpod.restorehooks.io"

// WebhookInstallOptions loads the generated webhook configurations (config/webhook/manifests.yaml) for
// envtest, which points them at a local server with a generated certificate, and adds the pod
// webhook's objectSelector as the deployed configuration has it.
func WebhookInstallOptions() (envtest.WebhookInstallOptions, error) {
	var opts envtest.WebhookInstallOptions
	raw, err := os.ReadFile(filepath.Join(RepoRoot(), "config", "webhook", "manifests.yaml"))
	if err != nil {
		return opts, fmt.Errorf("reading webhook manifests: %w", err)
	}
	dec := utilyaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(raw)))
	buf := make([]byte, len(raw))
	for {
		n, err := dec.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return opts, fmt.Errorf("splitting webhook manifests: %w", err)
		}
		doc := buf[:n]
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return opts, err
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			var m admissionv1.MutatingWebhookConfiguration
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return opts, err
			}
			for i := range m.Webhooks {
				// Only the pod webhook is limited to restored pods; the policy webhook sees every policy.
				if m.Webhooks[i].Name == PodWebhookName {
					m.Webhooks[i].ObjectSelector = RestoredPodSelector
				}
			}
			opts.MutatingWebhooks = append(opts.MutatingWebhooks, &m)
		case "ValidatingWebhookConfiguration":
			var v admissionv1.ValidatingWebhookConfiguration
			if err := yaml.Unmarshal(doc, &v); err != nil {
				return opts, err
			}
			opts.ValidatingWebhooks = append(opts.ValidatingWebhooks, &v)
		}
	}
	if len(opts.MutatingWebhooks) == 0 || len(opts.ValidatingWebhooks) == 0 {
		return opts, fmt.Errorf("config/webhook/manifests.yaml lacks a webhook configuration: run make manifests")
	}
	return opts, nil
}

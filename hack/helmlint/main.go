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

// Command helmlint lints a Helm chart with Helm's own lint action (helm.sh/helm/v4), as `helm lint
// --strict` does, so `make helm-lint` needs no helm binary. It lints the chart once with its default values
// and once with each values file in the chart's ci/ directory (chart-testing's convention), and exits 1
// when any of them has a warning or an error.
//
//	go run ./hack/helmlint [--kube-version v1.36.3] CHART_DIR...
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

func main() {
	kubeVersion := flag.String("kube-version", "",
		"Kubernetes version to lint against (default: the version of the client-go Helm is built with)")
	namespace := flag.String("namespace", "restore-hook-operator-system", "Namespace to render the chart in")
	flag.Usage = func() {
		_, _ = fmt.Fprintf(flag.CommandLine.Output(), "Usage: %s [flags] CHART_DIR...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	failed := false
	for _, dir := range flag.Args() {
		ok, err := lintChart(dir, *kubeVersion, *namespace)
		if err != nil {
			fmt.Fprintf(os.Stderr, "helmlint: %s: %v\n", dir, err)
			os.Exit(2)
		}
		failed = failed || !ok
	}
	if failed {
		os.Exit(1)
	}
}

// lintChart lints dir with its default values and with each ci/*-values.yaml, printing every message. It
// reports whether the chart is clean (no warning and no error with any values).
func lintChart(dir, kubeVersion, namespace string) (bool, error) {
	ciFiles, err := filepath.Glob(filepath.Join(dir, "ci", "*-values.yaml"))
	if err != nil {
		return false, fmt.Errorf("listing ci values files: %w", err)
	}
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	if kubeVersion != "" {
		if l.KubeVersion, err = common.ParseKubeVersion(kubeVersion); err != nil {
			return false, fmt.Errorf("--kube-version %q: %w", kubeVersion, err)
		}
	}
	clean := true
	for _, file := range append([]string{""}, ciFiles...) {
		vals := map[string]any{}
		label := "default values"
		if file != "" {
			label = file
			v, err := common.ReadValuesFile(file)
			if err != nil {
				return false, fmt.Errorf("reading %s: %w", file, err)
			}
			vals = v.AsMap()
		}
		res := l.Run([]string{dir}, vals)
		fmt.Printf("==> Linting %s with %s\n", dir, label)
		for _, m := range res.Messages {
			if m.Severity > support.InfoSev || m.Severity == support.InfoSev && os.Getenv("HELMLINT_VERBOSE") != "" {
				fmt.Println(m)
			}
		}
		// Errors not attached to a message (e.g. a chart that cannot be loaded at all).
		for _, err := range res.Errors {
			if !hasMessage(res.Messages, err) {
				fmt.Printf("[ERROR] %v\n", err)
			}
		}
		if action.HasWarningsOrErrors(res) {
			clean = false
		}
	}
	if clean {
		fmt.Printf("%s: %d values sets linted, no warnings or errors\n", dir, len(ciFiles)+1)
	} else {
		fmt.Printf("%s: lint failed\n", dir)
	}
	return clean, nil
}

func hasMessage(msgs []support.Message, err error) bool {
	for _, m := range msgs {
		if m.Err == err {
			return true
		}
	}
	return false
}

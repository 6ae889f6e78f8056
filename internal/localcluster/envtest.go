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

// Package cluster starts the pieces of a local Kubernetes control plane that tests, benchmarks and
// `make run-local` share: envtest's kube-apiserver and etcd with this project's CRDs and Velero's Restore
// CRD installed.
package localcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// VeleroModule is the Go module that carries Velero's API types and CRDs.
const VeleroModule = "github.com/vmware-tanzu/velero"

// RepoRoot returns the root directory of this repository, found from this source file's location so it
// works from any package's test directory.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("cluster: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// VeleroRestoreCRD returns the path of Velero's Restore CRD inside the Velero module directory, at the
// version go.mod pins.
func VeleroRestoreCRD() (string, error) {
	if p := os.Getenv("VELERO_RESTORE_CRD"); p != "" {
		return p, nil
	}
	dir, err := veleroModuleDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "config", "crd", "v1", "bases", "velero.io_restores.yaml")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("velero Restore CRD: %w", err)
	}
	return p, nil
}

// veleroModuleDir returns the directory of the Velero module at the version go.mod pins, downloading it
// when it is listed in go.mod but not in the module cache yet.
func veleroModuleDir() (string, error) {
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", VeleroModule)
		cmd.Dir = RepoRoot()
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("locating the %s module (go list -m): %w", VeleroModule, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err != nil || dir != "" {
		return dir, err
	}
	dl := exec.Command("go", "mod", "download", "-json", VeleroModule)
	dl.Dir = RepoRoot()
	if _, err := dl.Output(); err != nil {
		return "", fmt.Errorf("downloading the %s module: %w", VeleroModule, err)
	}
	if dir, err = list(); err == nil && dir == "" {
		err = fmt.Errorf("the %s module is not in the module cache after go mod download", VeleroModule)
	}
	return dir, err
}

// AssetsDir returns where the control plane binaries are: KUBEBUILDER_ASSETS, else setup-envtest's store
// for the pinned version (where hack/build-envtest.sh puts them).
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, _ := os.UserHomeDir()
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "kubebuilder-envtest", "k8s", "1.36.3-linux-amd64")
}

// NewEnvironment returns an envtest environment that installs this project's CRDs and Velero's Restore
// CRD. Callers may add webhook options before Start.
func NewEnvironment() (*envtest.Environment, error) {
	restoreCRD, err := VeleroRestoreCRD()
	if err != nil {
		return nil, err
	}
	assets := AssetsDir()
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("no kube-apiserver in %s: run 'make envtest' (it builds the control plane from source): %w", assets, err)
	}
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases"), restoreCRD},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}, nil
}

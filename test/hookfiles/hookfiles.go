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

// Package hookfiles reads back what hook commands wrote: kwok runs a pod's exec as a local process, so a
// hook appends to a file and a Ginkgo spec reads the order and count of what ran from it.
package hookfiles

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Dir is a fresh directory, removed after the spec, for the files one spec's hooks write.
func Dir(prefix string) string {
	ginkgo.GinkgoHelper()
	dir, err := os.MkdirTemp("", prefix)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	ginkgo.DeferCleanup(os.RemoveAll, dir)
	return dir
}

// Lines returns the whitespace-separated entries of a file hooks append to; nil when no hook created it.
func Lines(path string) []string {
	ginkgo.GinkgoHelper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return strings.Fields(string(data))
}

// Poll returns Lines(path) as a function, for Eventually and Consistently.
func Poll(path string) func() []string {
	return func() []string { return Lines(path) }
}

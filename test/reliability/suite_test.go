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

package reliability

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const veleroNS = "velero"

var (
	ctx       context.Context
	cancel    context.CancelFunc
	local     *localcluster.Local
	kwok      *localcluster.Kwok
	cfg       *rest.Config
	k8sClient client.Client
	// managerBin is cmd/manager built for this suite; kubeconfig is an admin kubeconfig for it.
	managerBin string
	kubeconfig string
)

func TestReliability(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reliability Suite (envtest + kwok + the manager binary)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	SetDefaultConsistentlyDuration(time.Second)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	dir, err := os.MkdirTemp("", "reliability-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)

	// The binary builds while the control plane starts.
	managerBin = filepath.Join(dir, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", managerBin, "./cmd/manager")
	build.Dir = localcluster.RepoRoot()
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Start()).To(Succeed())

	start := time.Now()
	local, err = localcluster.StartLocal(ctx, localcluster.LocalOptions{Webhooks: true, Kwok: localcluster.KwokOptions{Output: GinkgoWriter}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(local.Stop()).To(Succeed()) })
	kwok, cfg = local.Kwok, local.Config
	GinkgoWriter.Printf("envtest + kwok up in %s\n", time.Since(start))

	Expect(build.Wait()).To(Succeed(), "go build ./cmd/manager")
	GinkgoWriter.Printf("manager built in %s\n", time.Since(start))

	kubeconfig = filepath.Join(dir, "kubeconfig")
	Expect(localcluster.WriteKubeconfig(cfg, kubeconfig)).To(Succeed())

	k8sClient, err = client.New(cfg, client.Options{Scheme: operator.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	err = k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: veleroNS}})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
})

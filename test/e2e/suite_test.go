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

package e2e

import (
	"context"
	"fmt"
	"net"
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
	// metricsAddr is where the operator serves /metrics (HTTPS, --metrics-secure).
	metricsAddr string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite (envtest + kwok)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	SetDefaultConsistentlyDuration(time.Second)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	start := time.Now()
	var err error
	local, err = localcluster.StartLocal(ctx, localcluster.LocalOptions{Webhooks: true, Kwok: localcluster.KwokOptions{Output: GinkgoWriter}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(local.Stop()).To(Succeed()) })
	kwok, cfg = local.Kwok, local.Config
	GinkgoWriter.Printf("envtest + kwok up in %s (kubelet API on 127.0.0.1:%d)\n", time.Since(start), kwok.Port)

	k8sClient, err = client.New(cfg, client.Options{Scheme: operator.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	err = k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: veleroNS}})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}

	// The operator exactly as cmd/manager starts it, webhooks included, with the real pods/exec client
	// (Executor nil), and its metrics served over HTTPS behind authentication and authorization.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	metricsAddr = l.Addr().String()
	Expect(l.Close()).To(Succeed())
	wh := local.Env.WebhookInstallOptions
	octx, operatorCancel := context.WithCancel(ctx)
	var operatorErr error
	operatorExited := make(chan struct{})
	// Cleanups run last in, first out: the operator stops before the cluster.
	DeferCleanup(func() {
		operatorCancel()
		Eventually(operatorExited, 30*time.Second).Should(BeClosed())
		Expect(operatorErr).NotTo(HaveOccurred())
	})
	go func() {
		defer GinkgoRecover()
		defer close(operatorExited)
		operatorErr = operator.Run(octx, cfg, operator.Options{
			MetricsAddr: metricsAddr, SecureMetrics: true, ProbeAddr: "0", VeleroNamespace: veleroNS,
			MaxConcurrentExecs: 16, MaxConcurrentRuns: 4, StatusWriteInterval: 20 * time.Millisecond,
			SkipNameValidation: true,
			WebhookHost:        wh.LocalServingHost, WebhookPort: wh.LocalServingPort,
			WebhookCertPath: wh.LocalServingCertDir, WebhookCertName: "tls.crt", WebhookCertKey: "tls.key",
		})
	}()
	// Serving webhooks means the manager has started; stop waiting if it exits instead.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() {
		select {
		case <-operatorExited:
			wcancel()
		case <-wctx.Done():
		}
	}()
	if err := local.WaitForWebhooks(wctx, 30*time.Second); err != nil {
		select {
		case <-operatorExited:
			Fail(fmt.Sprintf("the operator exited while starting: %v", operatorErr))
		default:
			Fail(err.Error())
		}
	}
})

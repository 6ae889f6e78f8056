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

package webhook_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/restorehooks/restore-hook-operator/internal/exec"
	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/operator"
)

const veleroNS = "velero"

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	fake      *exec.Fake
	stopped   chan error
)

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Webhook Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	testEnv, err = localcluster.NewEnvironment()
	Expect(err).NotTo(HaveOccurred())
	testEnv.WebhookInstallOptions, err = localcluster.WebhookInstallOptions()
	Expect(err).NotTo(HaveOccurred())
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: operator.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: veleroNS}})).To(Succeed())

	fake = &exec.Fake{}
	wh := testEnv.WebhookInstallOptions
	stopped = make(chan error, 1)
	go func() {
		defer GinkgoRecover()
		stopped <- operator.Run(ctx, cfg, operator.Options{
			MetricsAddr: "0", ProbeAddr: "0", VeleroNamespace: veleroNS, MaxConcurrentExecs: 16,
			MaxConcurrentRuns: 2, StatusWriteInterval: 10 * time.Millisecond, Executor: fake,
			WebhookHost: wh.LocalServingHost, WebhookPort: wh.LocalServingPort, WebhookCertPath: wh.LocalServingCertDir,
			WebhookCertName: "tls.crt", WebhookCertKey: "tls.key",
		})
	}()
	// Wait for the webhook server to serve TLS.
	addr := net.JoinHostPort(wh.LocalServingHost, fmt.Sprint(wh.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test dial
		if err != nil {
			return err
		}
		return conn.Close()
	}, 20*time.Second).Should(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	if stopped != nil {
		Eventually(stopped, 30*time.Second).Should(Receive())
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

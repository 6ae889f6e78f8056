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

package velero

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/restorehooks/restore-hook-operator/internal/localcluster"
	"github.com/restorehooks/restore-hook-operator/operator"
)

var (
	ctx       context.Context
	cancel    context.CancelFunc
	local     *localcluster.Local
	kwok      *localcluster.Kwok
	velero    *localcluster.Velero
	cfg       *rest.Config
	k8sClient client.Client
)

func TestVelero(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite with Velero's server (envtest + kwok + velero)")
}

// requireVeleroBinaries skips the suite when Velero is not built, except under CI=true or when
// $VELERO_BIN is set (the Makefile sets it, and builds Velero before it runs the tests), where a missing
// binary is a failure: a suite that silently skips there would prove nothing.
func requireVeleroBinaries() {
	for _, find := range []func() (string, error){localcluster.VeleroBinary, localcluster.VeleroPluginAWSBinary} {
		if _, err := find(); err != nil {
			if os.Getenv("CI") == "true" || os.Getenv("VELERO_BIN") != "" {
				Fail(err.Error())
			}
			Skip(err.Error() + " (under CI=true this fails the suite)")
		}
	}
}

var _ = BeforeSuite(func() {
	requireVeleroBinaries()
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(2 * time.Second)
	SetDefaultConsistentlyPollingInterval(100 * time.Millisecond)

	start := time.Now()
	var err error
	local, err = localcluster.StartLocal(ctx, localcluster.LocalOptions{
		Webhooks: true,
		Kwok:     localcluster.KwokOptions{Output: GinkgoWriter},
		Velero:   &localcluster.VeleroOptions{Namespace: veleroNS},
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(local.Stop()).To(Succeed()) })
	kwok, velero, cfg = local.Kwok, local.Velero, local.Config
	GinkgoWriter.Printf("envtest + kwok + velero server up in %s (velero log %s, object store %s)\n",
		time.Since(start).Round(time.Millisecond), velero.LogFile, velero.Store.URL)

	k8sClient, err = client.New(cfg, client.Options{Scheme: operator.Scheme()})
	Expect(err).NotTo(HaveOccurred())

	// The operator exactly as cmd/manager starts it, webhooks included, with the real pods/exec client.
	// Its metrics stay off: Velero's server holds :8080.
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
			MetricsAddr: "0", ProbeAddr: "0", VeleroNamespace: veleroNS,
			MaxConcurrentExecs: 16, MaxConcurrentRuns: 4, StatusWriteInterval: 20 * time.Millisecond,
			WebhookHost: wh.LocalServingHost, WebhookPort: wh.LocalServingPort,
			WebhookCertPath: wh.LocalServingCertDir, WebhookCertName: "tls.crt", WebhookCertKey: "tls.key",
		})
	}()
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

// When a spec fails, Velero's side of the story is in its server log, which Stop removes: keep its end.
var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && velero != nil {
		AddReportEntry("velero server log", velero.LogTail(16*1024))
	}
})

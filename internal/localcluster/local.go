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
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// LocalOptions tune StartLocal.
type LocalOptions struct {
	// Kwok is passed to StartKwok.
	Kwok KwokOptions
	// Webhooks installs the operator's webhook configurations (WebhookInstallOptions), pointed by envtest
	// at a local server with a generated certificate: serve them from the operator with
	// Env.WebhookInstallOptions' LocalServingHost, LocalServingPort and LocalServingCertDir (tls.crt,
	// tls.key), then WaitForWebhooks.
	Webhooks bool
	// Configure, when set, adjusts the envtest environment before it starts (webhook options, extra
	// API server flags through env.ControlPlane.GetAPIServer().Configure()).
	Configure func(env *envtest.Environment) error
	// Velero, when set, turns Velero's own server on (StartVelero, after kwok): its CRDs, an in-process
	// object store, `velero server` and a pod binder. BindNode defaults to kwok's managed node. Only one
	// Velero server can run on a machine at a time (it binds port 8080).
	Velero *VeleroOptions
}

// Local is a whole control plane on this machine: envtest's kube-apiserver and etcd with this project's
// CRDs and Velero's Restore CRD, kwok as the node that runs pods, and, when asked, Velero's own server.
// The end-to-end tests, the benchmark and `make run-local` start it the same way.
type Local struct {
	// Env is the envtest environment (for its webhook options and AddUser).
	Env *envtest.Environment
	// Config is the admin's rest.Config for the API server.
	Config *rest.Config
	// Kwok is the running kwok with its nodes; Kwok.Kubeconfig is an admin kubeconfig for Config.
	Kwok *Kwok
	// Velero is the running Velero server; nil unless LocalOptions.Velero was set.
	Velero *Velero
}

// StartLocal starts envtest, then kwok against it, then Velero when asked. On error, whatever started is
// stopped again.
func StartLocal(ctx context.Context, opts LocalOptions) (_ *Local, err error) {
	env, err := NewEnvironment()
	if err != nil {
		return nil, err
	}
	if opts.Webhooks {
		if env.WebhookInstallOptions, err = WebhookInstallOptions(); err != nil {
			return nil, err
		}
	}
	if opts.Configure != nil {
		if err := opts.Configure(env); err != nil {
			return nil, fmt.Errorf("configuring envtest: %w", err)
		}
	}
	l := &Local{Env: env}
	if l.Config, err = env.Start(); err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Stop())
		}
	}()
	if l.Kwok, err = StartKwok(ctx, l.Config, opts.Kwok); err != nil {
		return nil, err
	}
	if opts.Velero != nil {
		vopts := *opts.Velero
		if vopts.BindNode == "" {
			vopts.BindNode = l.Kwok.ManagedNode
		}
		if l.Velero, err = StartVelero(ctx, l.Config, vopts); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// WaitForWebhooks waits until something serves TLS where envtest pointed the webhook configurations
// (the operator, started with those serving options), so a request is not refused while it starts.
func (l *Local) WaitForWebhooks(ctx context.Context, timeout time.Duration) error {
	wh := l.Env.WebhookInstallOptions
	addr := net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort))
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second},
		Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe, nothing is sent
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			last = err
			return false, nil
		}
		return true, conn.Close()
	})
	if err != nil {
		return fmt.Errorf("no webhook server at %s after %s (%v): %w", addr, timeout, last, err)
	}
	return nil
}

// Stop stops Velero, kwok, then the control plane.
func (l *Local) Stop() error {
	var errs []error
	if l.Velero != nil {
		errs = append(errs, l.Velero.Stop())
	}
	if l.Kwok != nil {
		errs = append(errs, l.Kwok.Stop())
	}
	if l.Env != nil {
		errs = append(errs, l.Env.Stop())
	}
	return errors.Join(errs...)
}

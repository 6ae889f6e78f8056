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
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigContext names the cluster, user and context of the kubeconfig files this package writes.
const kubeconfigContext = "envtest"

// Kubeconfig renders cfg as a kubeconfig file's content: one cluster, one user, one context, all named
// "envtest". envtest's rest.Config carries the admin's client certificate inline; file paths, a bearer
// token or basic auth are carried over too. Exec and auth-provider plugins are not supported.
func Kubeconfig(cfg *rest.Config) ([]byte, error) {
	if cfg == nil {
		return nil, fmt.Errorf("kubeconfig: nil rest.Config")
	}
	if cfg.ExecProvider != nil || cfg.AuthProvider != nil {
		return nil, fmt.Errorf("kubeconfig: rest.Config for %s uses an auth plugin, which cannot be written out", cfg.Host)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: host %q: %w", cfg.Host, err)
	}
	if host.Scheme == "" {
		// rest.Config allows a bare host:port; kubeconfig needs a URL.
		scheme := "https"
		if !rest.IsConfigTransportTLS(*cfg) {
			scheme = "http"
		}
		if host, err = url.Parse(scheme + "://" + cfg.Host); err != nil {
			return nil, fmt.Errorf("kubeconfig: host %q: %w", cfg.Host, err)
		}
	}
	if cfg.APIPath != "" && host.Path == "" {
		host.Path = cfg.APIPath
	}

	kc := clientcmdapi.NewConfig()
	kc.Clusters[kubeconfigContext] = &clientcmdapi.Cluster{
		Server:                   host.String(),
		CertificateAuthority:     cfg.CAFile,
		CertificateAuthorityData: cfg.CAData,
		InsecureSkipTLSVerify:    cfg.Insecure,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos[kubeconfigContext] = &clientcmdapi.AuthInfo{
		ClientCertificate:     cfg.CertFile,
		ClientCertificateData: cfg.CertData,
		ClientKey:             cfg.KeyFile,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = kubeconfigContext, kubeconfigContext
	kc.Contexts[kubeconfigContext] = kctx
	kc.CurrentContext = kubeconfigContext
	out, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: serialising: %w", err)
	}
	return out, nil
}

// WriteKubeconfig writes cfg as a kubeconfig file at path (mode 0600: it holds the admin's key),
// creating the parent directory if needed.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	data, err := Kubeconfig(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return nil
}

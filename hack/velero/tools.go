//go:build tools

// Package tools pins the programs the Makefile builds from this module, so `go mod tidy` keeps their
// dependencies in go.mod and go.sum.
package tools

import (
	_ "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws"
	_ "github.com/vmware-tanzu/velero/cmd/velero"
)

package exec

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// The streaming servers and client-go log every torn-down stream as an error through klog;
	// the tests tear streams down on purpose.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

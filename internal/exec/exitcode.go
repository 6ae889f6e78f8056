package exec

import (
	"errors"
	"regexp"
	"strconv"

	utilexec "k8s.io/client-go/util/exec"
)

// exitCodeText finds an exit code in an error's text. client-go's own message is "command terminated
// with exit code N". Runtimes whose exec error is not a kubelet ExitError (kwok runs commands as local
// processes and returns os/exec's error) reach the client as an internal error whose message ends in
// Go's "exit status N".
var exitCodeText = regexp.MustCompile(`(?:command terminated with exit code|exit status) (\d+)\b`)

// exitCode returns the non-zero exit code that err reports, if it reports one.
// An exit code of 0 inside an error is not trusted: such an error is an exec error.
func exitCode(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		if code := exitErr.ExitStatus(); code > 0 {
			return code, true
		}
		return 0, false
	}
	m := exitCodeText.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	code, convErr := strconv.ParseInt(m[1], 10, 32)
	if convErr != nil || code <= 0 {
		return 0, false
	}
	return int(code), true
}

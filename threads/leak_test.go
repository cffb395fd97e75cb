package threads

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts has ended when the tests do.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

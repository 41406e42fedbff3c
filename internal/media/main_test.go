package media

import (
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func asError(err error, target **Error) bool { return errors.As(err, target) }

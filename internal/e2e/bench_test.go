package e2e

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/qwenfake"
)

// BenchmarkRelayStream64 drives 64-token streams through the relay in
// front of the emulator with the official SDK, 50 at a time.
func BenchmarkRelayStream64(b *testing.B) {
	e := start(b, setup{})
	var n atomic.Int64
	b.SetParallelism(25)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seed := "b" + strconv.FormatInt(n.Add(1), 10)
			r := e.stream(context.Background(), params(model, directive("tokens=64 seed="+seed)))
			if r.err != nil || r.content != qwenfake.AnswerText(seed, 64) {
				b.Errorf("%v", r.err)
				return
			}
		}
	})
}

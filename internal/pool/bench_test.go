package pool

import (
	"context"
	"fmt"
	"github.com/qwenrelay/qwenrelay/internal/relay"
	"testing"

	"github.com/qwenrelay/qwenrelay/internal/store"
)

// BenchmarkAcquireRelease measures one selection over 1,000 accounts (in
// memory, no upstream): Acquire then Release(nil).
func BenchmarkAcquireRelease(b *testing.B) {
	accounts := make([]*store.Account, 1000)
	for i := range accounts {
		accounts[i] = &store.Account{Name: fmt.Sprintf("a%d", i)}
	}
	p, _ := offline(b, Options{MinInterval: -1}, accounts...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l, err := p.Acquire(ctx, relay.Want{Model: model})
		if err != nil {
			b.Fatal(err)
		}
		l.Release(nil)
	}
}

// BenchmarkAcquireReleaseParallel is the same under contention.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	accounts := make([]*store.Account, 1000)
	for i := range accounts {
		accounts[i] = &store.Account{Name: fmt.Sprintf("a%d", i)}
	}
	p, _ := offline(b, Options{MinInterval: -1}, accounts...)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := p.Acquire(ctx, relay.Want{Model: model})
			if err != nil {
				b.Error(err)
				return
			}
			l.Release(nil)
		}
	})
}

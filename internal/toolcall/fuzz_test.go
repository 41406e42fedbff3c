package toolcall

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzParser: no panic; every call's arguments are a valid JSON object (the
// invariants in run); the result does not depend on how the stream is cut
// into frames; and input that yields no call (returned or dropped) comes
// back byte-exact.
func FuzzParser(f *testing.F) {
	for _, tc := range parserCases {
		var s string
		for _, fr := range tc.frames {
			s += fr.text
		}
		f.Add(s, uint64(1), uint16(0))
	}
	f.Add("<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"\\u00e9\"}}</tool_call>", uint64(2), uint16(3))
	f.Add("<tool_call><function=search><parameter=limit>1e3</parameter></function></tool_call>", uint64(3), uint16(0))
	f.Fuzz(func(t *testing.T, data string, seed uint64, thinkLen uint16) {
		split := int(thinkLen) % (len(data) + 1)
		var whole []frame
		if split > 0 {
			whole = append(whole, think(data[:split]))
		}
		whole = append(whole, ans(data[split:]))
		evs, p := run(t, testTools, Choice{}, true, whole)
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		cutEvs, _ := run(t, testTools, Choice{}, true, cutEach(whole, func(s string) []int {
			var cuts []int
			for i := rng.IntN(3) + 1; i < len(s); i += rng.IntN(3) + 1 {
				cuts = append(cuts, i)
			}
			return cuts
		}))
		if a, b := summary(evs), summary(cutEvs); !slices.Equal(a, b) {
			t.Fatalf("result depends on the framing:\nwhole %q\ncut   %q", a, b)
		}
		if p.CallsMade() > 0 || p.CallsDropped() > 0 {
			return
		}
		var got string
		for _, e := range evs {
			got += e.Text
		}
		if got != data {
			t.Fatalf("no call, but text %q != input %q", got, data)
		}
	})
}

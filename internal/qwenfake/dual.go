package qwenfake

import "time"

// dualSeedSuffix makes the second candidate's text differ from the first.
const dualSeedSuffix = "#candidate-1"

// dualEncoder interleaves two candidate answers in one stream, as the
// upstream did in August 2026 (docs/qwen-protocol.md §11.4): two
// response.created frames with the same chat and parent ids, response_index
// "0" and "1" and different response ids, then the frames of both answers
// alternating. The second candidate's frame comes first after the created
// frames, so a client that does not filter by response id mixes the texts
// and may even stop at the second candidate's finished frame. Mid-stream
// failures are injected into the first candidate only.
type dualEncoder struct {
	first, second *v2Encoder
}

// DualSecondText is the answer text of the second candidate of a dual
// stream with this seed and piece count (what a client must NOT print).
func DualSecondText(seed string, tokens int) string { return AnswerText(seed+dualSeedSuffix, tokens) }

func newDualEncoder(p *streamPlan, now func() time.Time) *dualEncoder {
	q := *p
	q.seed = p.seed + dualSeedSuffix
	q.responseID = newUUID()
	q.index = "1"
	q.fail = Failure{}
	return &dualEncoder{first: newV2Encoder(p, now), second: newV2Encoder(&q, now)}
}

func (d *dualEncoder) frame(b []byte, kind frameKind, i int) []byte {
	if kind == frameCreated {
		b = d.first.frame(b, kind, i)
		return d.second.frame(b, kind, i)
	}
	b = d.second.frame(b, kind, i)
	return d.first.frame(b, kind, i)
}

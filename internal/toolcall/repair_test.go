package toolcall

import "testing"

func TestRepairJSON(t *testing.T) {
	cases := []struct {
		in, want string
		changed  bool
	}{
		{`{"a": "b"}`, `{"a": "b"}`, false},
		{"{\"a\": \"x\ny\"}\n", `{"a": "x\ny"}` + "\n", true},
		{"{\"a\": \"\t\r\x01\"}", `{"a": "\t\r\u0001"}`, true},
		{`{"a": "it\'s"}`, `{"a": "it's"}`, true},
		{`{"a": "\d \" \\ \u00e9"}`, `{"a": "\\d \" \\ \u00e9"}`, true},
		{`{"a": "end\`, `{"a": "end\`, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, changed := repairJSON(tc.in)
			if got != tc.want || changed != tc.changed {
				t.Fatalf("repairJSON(%q) = %q %v, want %q %v", tc.in, got, changed, tc.want, tc.changed)
			}
		})
	}
}

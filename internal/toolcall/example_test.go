package toolcall_test

import (
	"encoding/json"
	"fmt"

	"github.com/qwenrelay/qwenrelay/internal/toolcall"
)

func ExampleParser() {
	tools := []toolcall.Tool{{Name: "get_weather", Parameters: json.RawMessage(
		`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}}`)}}
	ids := 0
	p := toolcall.NewParser(tools, toolcall.Choice{Mode: toolcall.Auto}, true, func() string {
		ids++
		return fmt.Sprintf("call_%d", ids)
	})
	frames := []string{"Checking.\n<tool", "_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n",
		"<parameter=days>\n2\n</parameter>\n</function>\n</tool_call>"}
	var evs []toolcall.Event
	for _, f := range frames {
		evs = append(evs, p.Feed(toolcall.Answer, f)...)
	}
	evs = append(evs, p.Close()...)
	for _, e := range evs {
		switch e.Type {
		case toolcall.Text:
			fmt.Printf("text %q\n", e.Text)
		case toolcall.CallEnd:
			fmt.Printf("call %d %s %s %s\n", e.Call.Index, e.Call.ID, e.Call.Name, e.Call.Arguments)
		}
	}
	// Output:
	// text "Checking."
	// call 0 call_1 get_weather {"city":"Paris","days":2}
}

func ExampleRenderCall() {
	fmt.Println(toolcall.RenderCall(toolcall.Call{Name: "get_weather", Arguments: `{"city": "Paris"}`}))
	fmt.Println(toolcall.RenderResult(`{"temp_c": 21}`))
	// Output:
	// <tool_call>
	// {"name": "get_weather", "arguments": {"city":"Paris"}}
	// </tool_call>
	// <tool_response>
	// {"temp_c": 21}
	// </tool_response>
}

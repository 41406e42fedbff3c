.PHONY: build test bench fuzz run-emulator

build:
	go build -o qwenrelay ./cmd/qwenrelay

test:
	go test -race ./...

# Load test: starts the emulator and the relay as child processes on loopback.
bench: build
	./qwenrelay bench --scenario all

fuzz:
	go test -run XXX -fuzz FuzzDecoder -fuzztime 30s ./internal/sse
	go test -run XXX -fuzz FuzzDecodeChatRequest -fuzztime 30s ./internal/openai

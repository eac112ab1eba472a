# The README's test command is `make test`. It needs a Redis on
# 127.0.0.1:6379 (NUDGE_TEST_REDIS_ADDR overrides); .ci/run starts one.
GO ?= go

.PHONY: test lint run build

test:
	$(GO) test -race -count=1 -timeout 20m ./...

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

run:
	$(GO) run ./cmd/nudge

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/nudge ./cmd/nudge

# The README's test command is `make test`. It brings what the tests need:
# mailpit (tools), then scripts/test-env starts a throwaway Redis on
# 127.0.0.1:6379 when none answers there (NUDGE_TEST_REDIS_ADDR overrides),
# installs redis-server and Chromium with apt-get when they are missing (as
# root), runs the tests and stops the Redis it started.
GO ?= go

# mailpit measures the email layout's HTML compatibility in
# internal/render's tests; they fail without it.
MAILPIT_VERSION := v1.33.1

.PHONY: test lint run build tools

tools:
	command -v mailpit || test -x "$$($(GO) env GOPATH)/bin/mailpit" || $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

test: tools
	scripts/test-env $(GO) test -race -count=1 -timeout 20m ./...

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

run:
	$(GO) run ./cmd/nudge

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/nudge ./cmd/nudge

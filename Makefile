# IRISX: `make run` and `make test` work on a fresh Debian 12 machine as root.
BUILD ?= build
ASAN_BUILD ?= build-asan
WERROR := $(if $(CI),ON,OFF)
CMAKE_FLAGS ?= -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRISX_WERROR=$(WERROR)

.PHONY: all deps build build-asan run test test-unit test-asan test-e2e e2e-deps bench fuzz format-check lint clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	ninja -C $(BUILD)

build-asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIRISX_SANITIZE=ON -DIRISX_WERROR=$(WERROR) -DIRISX_FUZZ=ON >/dev/null
	ninja -C $(ASAN_BUILD)

run: build
	@mkdir -p var
	./$(BUILD)/irisx serve

test: build build-asan lint
	scripts/test.sh

test-unit: build
	cd $(BUILD) && ctest --output-on-failure

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure

e2e-deps:
	cd tests/e2e && { [ -d node_modules/twilio ] && [ -d node_modules/standardwebhooks ] && [ -d node_modules/smpp ] && [ -d node_modules/smtp-server ] && [ -d node_modules/mailparser ] || npm install --no-audit --no-fund --loglevel=error; }

test-e2e: build e2e-deps
	scripts/test.sh e2e

lint:
	@scripts/lint.sh

bench: build
	bench/api.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

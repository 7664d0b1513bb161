# Thin wrapper over CMake. `make deps` installs everything the build and the
# tests need on Debian 12; `make demo` and `make test` build first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps test test-asan demo bench clean fuzz-replay

all: build

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/install-deps

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900
	@cd $(BUILD) && bash ../scripts/ctest-summary

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -L 'unit|integration|fuzz' --timeout 900

demo: build
	bash scripts/demo $(BUILD)/cairn

bench: build
	bash bench/run $(BUILD)/cairn && bash bench/train $(BUILD) && bash bench/serve $(BUILD)/cairn && bash bench/drift $(BUILD) && bash bench/data $(BUILD) && bash bench/pipeline $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

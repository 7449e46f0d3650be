# Thin front for CMake. `make run` and `make test` install missing Debian
# packages first (scripts/deps.sh: silent when everything is present).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG ?= examples/sma_cross.ini
MAKEFLAGS += --no-print-directory

.PHONY: all build deps run test test-fast bench format clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/tradebus backtest --config $(CONFIG) --out out

# The whole suite, twice: a gcc build, then a clang build under ASan+UBSan
# (so both compilers must stay warning-free).
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTB_SANITIZE=ON -DTB_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps
	@mkdir -p $(BUILD)
	@cmake -S . -B $(BUILD)-release -DCMAKE_BUILD_TYPE=Release -DTB_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)-release -j $(JOBS)
	./$(BUILD)-release/tradebus_bench --json $(BUILD)/bench.json

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BUILD)-release out

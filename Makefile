# ptune - plain Makefile. `make` builds libptune.a and ./ptune; `make test` runs
# every test program; `make asan` runs the same suite under ASan + UBSan.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?= 0
SAN     ?=

# OpenMP when the compiler has it.
OMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -ffp-contract=fast $(WARN) $(OMP) $(SAN) \
           -Iinclude -Isrc -MMD -MP
LDLIBS  += $(OMP) $(SAN) -lm -lpthread

LIB_SRC  := $(sort $(wildcard src/*/*.c))
TOOL_SRC := $(sort $(wildcard tools/ptune/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
LIB      := $(BUILD)/libptune.a
BIN      := $(BUILD)/ptune

.PHONY: all test asan clean format format-check demo tests examples
all: $(LIB) $(BIN) ptune

ptune: $(BIN)
	@if [ "$(BUILD)" = build ]; then cp $(BIN) ptune; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(TOOL_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(TOOL_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

tests: $(TESTS) $(BIN) $(EXAMPLES)
examples: $(EXAMPLES)

# Runs every test program and every tests/*.sh; ends with "N passed, M failed".
test: tests
	@PTUNE_BIN=$(BIN) BUILD=$(BUILD) sh scripts/run_tests.sh $(TESTS) $(sort $(wildcard tests/test_*.sh))

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

format:
	clang-format -i $(LIB_SRC) $(TOOL_SRC) $(TEST_SRC) $(EX_SRC) $(wildcard src/*/*.h include/*.h tests/*.h tools/ptune/*.h)

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(TOOL_SRC) $(TEST_SRC) $(EX_SRC) $(wildcard src/*/*.h include/*.h tests/*.h tools/ptune/*.h)

clean:
	rm -rf build build-asan ptune

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TESTS:=.d) $(EXAMPLES:=.d)
.PRECIOUS: $(BUILD)/tests/%.o $(BUILD)/examples/%.o

# ptune against PyTorch at GPT-2-small and BERT-base shapes (bench/compare.sh;
# knobs: ROUNDS, REPS, LAYERS, THREADS, FAMILIES - see the script).
.PHONY: bench-compare
$(BUILD)/peak: bench/peak.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -march=native $(OMP) $< -o $@

bench-compare: $(BIN) $(BUILD)/peak
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/compare.sh

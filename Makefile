# ptune - plain Makefile. `make` builds libptune.a and ./ptune; `make test` runs
# every test program; `make asan` runs the same suite under ASan + UBSan.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?= 0
SAN     ?=

# OpenMP when the compiler has it.
OMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

# GEMM engine behind the matmul seam (src/kernels/gemm.h): openblas, dnnl or
# builtin. Default: OpenBLAS when pkg-config finds it (Debian libopenblas-dev;
# the OpenMP flavour libopenblas-openmp-dev shares our threads), else builtin.
GEMM    ?= $(shell pkg-config --exists openblas 2>/dev/null && echo openblas || echo builtin)
ifeq ($(GEMM),openblas)
GEMM_CFLAGS := -DPT_GEMM_OPENBLAS $(shell pkg-config --cflags openblas)
GEMM_LIBS   := $(shell pkg-config --libs openblas)
else ifeq ($(GEMM),dnnl)
GEMM_CFLAGS := -DPT_GEMM_DNNL
GEMM_LIBS   := -ldnnl
else ifeq ($(GEMM),builtin)
GEMM_CFLAGS :=
GEMM_LIBS   :=
else
$(error GEMM must be openblas, dnnl or builtin, not "$(GEMM)")
endif

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -ffp-contract=fast $(WARN) $(OMP) $(SAN) \
           -Iinclude -Isrc -MMD -MP
LDLIBS  += $(GEMM_LIBS) $(OMP) $(SAN) -lm -lpthread

LIB_SRC  := $(sort $(wildcard src/*/*.c))
TOOL_SRC := $(sort $(wildcard tools/ptune/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The engine's objects are rebuilt when GEMM changes (the stamp names it).
.DEFAULT_GOAL := all
GEMM_STAMP := $(BUILD)/gemm-engine
$(shell mkdir -p $(BUILD); [ "$$(cat $(GEMM_STAMP) 2>/dev/null)" = "$(GEMM)" ] || echo $(GEMM) > $(GEMM_STAMP))
GEMM_OBJ := $(filter $(BUILD)/src/kernels/matmul.o $(BUILD)/src/kernels/gemm_%.o,$(LIB_OBJ))
$(GEMM_OBJ): $(GEMM_STAMP)
$(GEMM_OBJ): CFLAGS += $(GEMM_CFLAGS)
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

# The main job: P-tune stories260K and compare with a manual prompt (README).
demo: all
	@PTUNE_BIN=$(BIN) sh scripts/demo.sh

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

format:
	clang-format -i $(LIB_SRC) $(TOOL_SRC) $(TEST_SRC) $(EX_SRC) $(wildcard src/*/*.h include/*.h tests/*.h tools/ptune/*.h)

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(TOOL_SRC) $(TEST_SRC) $(EX_SRC) $(wildcard src/*/*.h include/*.h tests/*.h tools/ptune/*.h)

clean:
	rm -rf build build-asan build-fuzz ptune

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TESTS:=.d) $(EXAMPLES:=.d)
.PRECIOUS: $(BUILD)/tests/%.o $(BUILD)/examples/%.o

# ---- fuzzing (libFuzzer, clang) and static analysis --------------------------
# `make fuzz` builds the library with -fsanitize=fuzzer-no-link,address,undefined
# into build-fuzz/, links every tests/fuzz/fuzz_<name>.c with -fsanitize=fuzzer,
# runs each for FUZZ_SECONDS on its corpus tests/fuzz/corpus/<name>/ and fails
# if any finds a crash, leak, timeout or sanitizer report (artifacts are kept in
# build-fuzz/artifacts/). `make lint` runs cppcheck with the project's settings.
FUZZ_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_NAMES   := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_SANS    := address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: fuzz fuzz-build lint
fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OMP= OPT=-O1 WERROR=0 GEMM=builtin \
	    SAN="-fsanitize=fuzzer-no-link,$(FUZZ_SANS)" $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

$(FUZZ_BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -fsanitize=fuzzer,$(FUZZ_SANS) -o $@ $< $(LIB) -lm -lpthread

CPPCHECK_FLAGS := --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
                  --std=c11 -D__GNUC__ -Iinclude -Isrc --suppressions-list=.cppcheck
lint:
	cppcheck $(CPPCHECK_FLAGS) src tools tests/fuzz

# ptune against PyTorch at GPT-2-small and BERT-base shapes (bench/compare.sh;
# knobs: ROUNDS, REPS, LAYERS, THREADS, FAMILIES - see the script).
.PHONY: bench-compare
$(BUILD)/peak: bench/peak.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -march=native $(OMP) $< -o $@

bench-compare: $(BIN) $(BUILD)/peak
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/compare.sh
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/task.sh

.PHONY: bench-task
bench-task: $(BIN) $(BUILD)/peak
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/task.sh

# ptune - plain Makefile. `make` builds libptune.a, libptune.so, the `ptune`
# tool (copied to ./ptune), the C example and the man pages; `make test` runs
# every test program; `make asan` runs the same suite under ASan + UBSan;
# `make install` / `make uninstall` honour PREFIX and DESTDIR.
# `make MPI=1` (often with BUILD=build-mpi) adds data-parallel training under
# mpirun (Open MPI: libopenmpi-dev); the default build needs no MPI.
#
# Your CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are used as given (default CFLAGS:
# -O2 -g); the project's own flags live in PT_* variables and come first, so
# `make CFLAGS=-O3` works.
CC       ?= cc
OBJCOPY  ?= objcopy
BUILD    ?= build
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WERROR   ?= 0
SAN      ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR   ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# The version lives in include/ptune.h only.
VERSION := $(shell sed -n 's/^\#define PTUNE_VERSION_STRING "\(.*\)"/\1/p' include/ptune.h)
VMAJOR  := $(word 1,$(subst ., ,$(VERSION)))
VMINOR  := $(word 2,$(subst ., ,$(VERSION)))

# OpenMP when the compiler has it.
OMP := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

# GEMM engine behind the matmul seam (src/kernels/gemm.h): openblas, dnnl or
# builtin. Default: OpenBLAS when pkg-config finds it (Debian libopenblas-dev;
# the OpenMP flavour libopenblas-openmp-dev shares our threads), else builtin.
ifeq ($(origin GEMM),undefined)
GEMM    := $(shell pkg-config --exists openblas 2>/dev/null && echo openblas || echo builtin)
GEMM_WHY := $(if $(filter openblas,$(GEMM)),pkg-config found openblas,pkg-config found no openblas: \
            install pkg-config and libopenblas-openmp-dev for the faster engine)
else
GEMM_WHY := GEMM=$(GEMM) given
endif
ifeq ($(GEMM),openblas)
GEMM_CFLAGS := -DPT_GEMM_OPENBLAS $(shell pkg-config --cflags openblas)
GEMM_LIBS   := $(shell pkg-config --libs openblas)
PC_REQUIRES := openblas
else ifeq ($(GEMM),dnnl)
GEMM_CFLAGS := -DPT_GEMM_DNNL
GEMM_LIBS   := -ldnnl
PC_REQUIRES :=
else ifeq ($(GEMM),builtin)
GEMM_CFLAGS :=
GEMM_LIBS   :=
PC_REQUIRES :=
else
$(error GEMM must be openblas, dnnl or builtin, not "$(GEMM)")
endif
ifeq ($(MAKELEVEL),0)
ifeq ($(filter clean format format-check lint uninstall,$(MAKECMDGOALS)),)
$(info ptune $(VERSION): GEMM engine $(GEMM) ($(strip $(GEMM_WHY)))$(if $(OMP),, - no OpenMP)$(if $(filter 1,$(MPI)), - MPI))
endif
endif

# MPI=1: data-parallel training under mpirun (src/train/dist.c; Open MPI from
# Debian: libopenmpi-dev). Flags from pkg-config ompi-c, else mpicc --showme.
MPI     ?= 0
ifeq ($(MPI),1)
MPI_CFLAGS := -DPT_MPI $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
$(error MPI=1 but neither pkg-config ompi-c nor mpicc found: install libopenmpi-dev)
endif
else ifneq ($(MPI),0)
$(error MPI must be 0 or 1, not "$(MPI)")
endif

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
# The project's flags; the user's CPPFLAGS/CFLAGS/LDFLAGS/LDLIBS follow them.
# Library code is built with hidden visibility: only PT_API (ptune.h) is exported.
PT_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc
PT_CFLAGS   := -std=c11 -ffp-contract=fast -fvisibility=hidden $(WARN) $(OMP) $(SAN) -MMD -MP
PT_LDLIBS   := $(GEMM_LIBS) $(MPI_LIBS) $(OMP) $(SAN) -lm -lpthread
COMPILE      = $(CC) $(PT_CPPFLAGS) $(CPPFLAGS) $(PT_CFLAGS) $(CFLAGS)
LINK         = $(CC) $(OMP) $(SAN) $(CFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
TOOL_SRC := $(sort $(wildcard tools/ptune/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
EX_SRC   := $(sort $(wildcard examples/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
# The engine's objects are rebuilt when GEMM changes (the stamp names it).
.DEFAULT_GOAL := all
GEMM_STAMP := $(BUILD)/gemm-engine
$(shell mkdir -p $(BUILD); [ "$$(cat $(GEMM_STAMP) 2>/dev/null)" = "$(GEMM)" ] || echo $(GEMM) > $(GEMM_STAMP))
GEMM_OBJ := $(filter $(BUILD)/src/kernels/matmul.o $(BUILD)/src/kernels/gemm_%.o,$(LIB_OBJ)) \
            $(filter $(BUILD)/pic/src/kernels/matmul.o $(BUILD)/pic/src/kernels/gemm_%.o,$(PIC_OBJ))
$(GEMM_OBJ): $(GEMM_STAMP)
$(GEMM_OBJ): PT_CPPFLAGS += $(GEMM_CFLAGS)
# dist.c (and what reports the build) is rebuilt when MPI changes.
MPI_STAMP := $(BUILD)/mpi-build
$(shell [ "$$(cat $(MPI_STAMP) 2>/dev/null)" = "$(MPI)" ] || echo $(MPI) > $(MPI_STAMP))
MPI_OBJ := $(BUILD)/src/train/dist.o $(BUILD)/pic/src/train/dist.o
$(MPI_OBJ): $(MPI_STAMP)
$(MPI_OBJ): PT_CPPFLAGS += $(MPI_CFLAGS)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
# libptune-internal.a: every object with every symbol, for the tool and the
# tests (they use internal layers). libptune.a (installed): the same objects
# linked into one, hidden symbols made local, so only the API is global.
ILIB     := $(BUILD)/libptune-internal.a
LIB      := $(BUILD)/libptune.a
SONAME   := libptune.so.$(VMAJOR)
SO       := $(BUILD)/libptune.so.$(VMAJOR).$(VMINOR)
BIN      := $(BUILD)/ptune
MAN      := $(BUILD)/man/ptune.1 $(BUILD)/man/ptune.3

.PHONY: all test asan clean format format-check demo tests examples man install uninstall
all: $(LIB) $(SO) $(BIN) ptune $(EXAMPLES) $(MAN)

ptune: $(BIN)
	@if [ "$(BUILD)" = build ]; then cp $(BIN) ptune; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(COMPILE) -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(COMPILE) -fPIC -c $< -o $@

$(ILIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIB): $(LIB_OBJ)
	rm -f $@ $(BUILD)/libptune-all.o
	$(CC) -r -nostdlib -o $(BUILD)/libptune-all.o $^
	$(OBJCOPY) --localize-hidden $(BUILD)/libptune-all.o
	ar rcs $@ $(BUILD)/libptune-all.o

$(SO): $(PIC_OBJ)
	$(LINK) -shared -Wl,-soname,$(SONAME) -Wl,-z,defs -o $@ $^ $(PT_LDLIBS) $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libptune.so

$(BIN): $(TOOL_OBJ) $(ILIB)
	$(LINK) -o $@ $(TOOL_OBJ) $(ILIB) $(PT_LDLIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(ILIB)
	$(LINK) -o $@ $< $(ILIB) $(PT_LDLIBS) $(LDLIBS)

# The example uses only ptune.h: it links the installable archive.
$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIB)
	$(LINK) -o $@ $< $(LIB) $(PT_LDLIBS) $(LDLIBS)

# Man pages: ptune(1) from the tool's own --help texts (one section per
# command, so they cannot drift), ptune(3) from include/ptune.h.
man: $(MAN)
$(BUILD)/man/ptune.1: $(BIN) scripts/gen_man1.sh
	@mkdir -p $(dir $@)
	PTUNE_NO_REEXEC=1 sh scripts/gen_man1.sh $(BIN) $(VERSION) > $@.tmp && mv $@.tmp $@
$(BUILD)/man/ptune.3: include/ptune.h scripts/gen_man3.sh
	@mkdir -p $(dir $@)
	sh scripts/gen_man3.sh include/ptune.h $(VERSION) > $@.tmp && mv $@.tmp $@

# pkg-config file (written at install time: it records PREFIX/LIBDIR).
PC_LIBS_PRIVATE := $(if $(filter dnnl,$(GEMM)),-ldnnl) $(MPI_LIBS) $(OMP) -lm -lpthread
PC_LIBDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
define PC_TEXT
prefix=$(PREFIX)
libdir=$(PC_LIBDIR)
includedir=$(PC_INCDIR)

Name: ptune
Description: P-Tuning of frozen language models (GPT-2, BERT, LLaMA) on the CPU
Version: $(VERSION)
Requires.private: $(PC_REQUIRES)
Libs: -L$${libdir} -lptune
Libs.private: $(strip $(PC_LIBS_PRIVATE))
Cflags: -I$${includedir}
endef
export PC_TEXT

install: all
	printf '%s\n' "$$PC_TEXT" > $(BUILD)/ptune.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/ptune
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libptune.a
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/$(notdir $(SO))
	ln -sf $(notdir $(SO)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libptune.so
	install -m 644 include/ptune.h $(DESTDIR)$(INCLUDEDIR)/ptune.h
	install -m 644 $(BUILD)/ptune.pc $(DESTDIR)$(PKGCONFIGDIR)/ptune.pc
	install -m 644 $(BUILD)/man/ptune.1 $(DESTDIR)$(MANDIR)/man1/ptune.1
	install -m 644 $(BUILD)/man/ptune.3 $(DESTDIR)$(MANDIR)/man3/ptune.3

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ptune $(DESTDIR)$(LIBDIR)/libptune.a \
	    $(DESTDIR)$(LIBDIR)/libptune.so.$(VMAJOR).$(VMINOR) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libptune.so $(DESTDIR)$(INCLUDEDIR)/ptune.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/ptune.pc $(DESTDIR)$(MANDIR)/man1/ptune.1 \
	    $(DESTDIR)$(MANDIR)/man3/ptune.3

tests: $(TESTS) $(BIN) $(EXAMPLES) $(LIB) $(SO) $(MAN)
examples: $(EXAMPLES)

# Runs every test program and every tests/*.sh; the last line is the summary
# "N passed, M failed, K skipped, S sub-checks skipped".
test: tests
	@PTUNE_BIN=$(BIN) BUILD=$(BUILD) PTUNE_SAN="$(SAN)" PTUNE_CC="$(CC)" GEMM=$(GEMM) \
	    sh scripts/run_tests.sh $(TESTS) $(sort $(wildcard tests/test_*.sh))

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
	rm -rf build build-asan build-fuzz build-mpi build-mpi-asan ptune

-include $(LIB_OBJ:.o=.d) $(PIC_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(TESTS:=.d) $(EXAMPLES:=.d)
# test and example objects are kept (not intermediate files make would delete)
.SECONDARY: $(TESTS:=.o) $(EXAMPLES:=.o)

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

$(FUZZ_BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_targets.h $(ILIB)
	@mkdir -p $(dir $@)
	$(CC) $(PT_CPPFLAGS) $(CPPFLAGS) $(filter-out -MMD -MP,$(PT_CFLAGS)) $(CFLAGS) \
	    -fsanitize=fuzzer,$(FUZZ_SANS) -o $@ $< $(ILIB) -lm -lpthread

CPPCHECK_FLAGS := --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
                  --std=c11 -D__GNUC__ -Iinclude -Isrc --suppressions-list=.cppcheck
lint:
	cppcheck $(CPPCHECK_FLAGS) src tools tests/fuzz

# ptune against PyTorch at GPT-2-small and BERT-base shapes (bench/compare.sh;
# knobs: ROUNDS, REPS, LAYERS, THREADS, FAMILIES - see the script).
.PHONY: bench-compare
# products with bf16 weights in each arithmetic at GPT-2-small shapes
$(BUILD)/bf16mm: bench/bf16mm.c $(ILIB)
	$(COMPILE) -o $@ $< $(ILIB) $(PT_LDLIBS) $(LDLIBS)
$(BUILD)/peak: bench/peak.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -march=native $(OMP) $< -o $@

bench-compare: $(BIN) $(BUILD)/peak
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/compare.sh
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/task.sh

.PHONY: bench-task
bench-task: $(BIN) $(BUILD)/peak
	PTUNE=$(BIN) PEAK=$(BUILD)/peak sh bench/task.sh

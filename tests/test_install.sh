#!/bin/sh
# test_install.sh - `make install` into a temporary DESTDIR, then what a user of
# the installed library does: build examples/classify.c with
# `pkg-config --cflags --libs ptune` alone (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR pointed at the DESTDIR), statically (--static) and
# against the shared library, run both, and compare them with the in-tree
# build of the same example (same seed: the same output and prompt file,
# byte for byte). Also: the file list, the soname, the symbols the shared
# library exports (exactly ptune.h's PT_API functions), the man pages (one
# section per command of `ptune --help`, no roff warnings), `ptune --version`,
# and `make uninstall` leaving no file behind.
# Skipped in sanitizer builds (the example is built without the sanitizers)
# and without pkg-config.
. tests/cli_lib.sh
B=${BUILD:-build}
if [ -n "$PTUNE_SAN" ]; then echo "  SKIP: sanitizer build"; exit 77; fi
command -v pkg-config > /dev/null || { echo "  SKIP: pkg-config not installed"; exit 77; }
CC=${PTUNE_CC:-cc}
T=$(mktemp -d "${TMPDIR:-/tmp}/ptune-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
D=$T/dest P=/usr/local
ROOT=$(pwd)
VERSION=$(sed -n 's/^#define PTUNE_VERSION_STRING "\(.*\)"/\1/p' include/ptune.h)
MAJOR=${VERSION%%.*}
MINOR=$(echo "$VERSION" | cut -d. -f2)

# ---- the user's flags are honoured, the project's kept (a dry run: nothing is built)
line=$(env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make -n --no-print-directory -B BUILD=$T/flags CFLAGS=-O3 CPPFLAGS=-DPT_USER_CPP LDFLAGS=-Wl,-O1 \
    $T/flags/src/core/vec.o $T/flags/ptune 2> $T/flags.log)
cline=$(echo "$line" | grep -m1 -- '-c src/core/vec.c')
lline=$(echo "$line" | grep -m1 -- "-o $T/flags/ptune ")
echo "  make CFLAGS=-O3 CPPFLAGS=-DPT_USER_CPP LDFLAGS=-Wl,-O1 compiles with: $cline"
check "the compile line has the user's -O3 and -DPT_USER_CPP and the project's -std=c11 -fvisibility=hidden -Iinclude" \
    "echo '$cline' | grep -q -- ' -O3' && echo '$cline' | grep -q -- '-DPT_USER_CPP' &&
     echo '$cline' | grep -q -- '-std=c11' && echo '$cline' | grep -q -- '-fvisibility=hidden' &&
     echo '$cline' | grep -q -- '-Iinclude' && ! echo '$cline' | grep -q -- ' -O2'"
check "the link line has the user's LDFLAGS" "echo '$lline' | grep -q -- '-Wl,-O1'"
gemm=$(echo "$line" | grep -m1 'GEMM engine')
check "make prints the GEMM engine it chose: $gemm" "echo '$gemm' | grep -q 'GEMM engine [a-z]* ('"

# ---- every function ptune.h declares is exported (PT_API)
undeclared=$(grep -E '^[a-z].*[ *]pt_[a-z0-9_]*\(' include/ptune.h | grep -v '^PT_API' | grep -v '^typedef')
check "every function declared in ptune.h carries PT_API" "[ -z \"$undeclared\" ]"
[ -z "$undeclared" ] || echo "$undeclared" | head -3

# ---- install
if make -s --no-print-directory install BUILD="$B" DESTDIR="$D" PREFIX=$P > $T/install.log 2>&1; then
    ok "make install DESTDIR=... PREFIX=$P"
else
    bad "make install: $(tail -3 $T/install.log)"
    exit 1
fi
L=$D$P/lib
for f in bin/ptune lib/libptune.a lib/libptune.so.$MAJOR.$MINOR include/ptune.h \
    lib/pkgconfig/ptune.pc share/man/man1/ptune.1 share/man/man3/ptune.3; do
    check "installed $f" "[ -f '$D$P/$f' ]"
done
check "libptune.so.$MAJOR -> libptune.so.$MAJOR.$MINOR" \
    "[ \"\$(readlink '$L/libptune.so.$MAJOR')\" = libptune.so.$MAJOR.$MINOR ]"
check "libptune.so -> libptune.so.$MAJOR" "[ \"\$(readlink '$L/libptune.so')\" = libptune.so.$MAJOR ]"
soname=$(readelf -d "$L/libptune.so.$MAJOR.$MINOR" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check "soname $soname" "[ '$soname' = libptune.so.$MAJOR ]"

# ---- exported symbols: exactly the PT_API functions of ptune.h
sed -n 's/^PT_API [^(]*[ *]\(pt_[a-z0-9_]*\)(.*/\1/p' include/ptune.h | sort > $T/api.txt
nm -D --defined-only "$L/libptune.so.$MAJOR.$MINOR" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' |
    sort > $T/dyn.txt
nm -g --defined-only "$L/libptune.a" | awk 'NF == 3 {print $3}' | sort > $T/static.txt
n_api=$(wc -l < $T/api.txt)
n_dyn=$(wc -l < $T/dyn.txt)
n_static=$(wc -l < $T/static.txt)
echo "  symbols: ptune.h declares $n_api PT_API functions; libptune.so exports $n_dyn," \
    "libptune.a has $n_static global symbols"
check "libptune.so exports only the API" "[ $n_api -gt 10 ] && cmp -s $T/api.txt $T/dyn.txt"
check "libptune.a's global symbols are only the API" "cmp -s $T/api.txt $T/static.txt"
cmp -s $T/api.txt $T/dyn.txt || diff $T/api.txt $T/dyn.txt | head -5

# ---- the installed tool and man pages
v=$(PTUNE_NO_REEXEC=1 "$D$P/bin/ptune" --version)
check "ptune --version: $v" "[ '$v' = 'ptune $VERSION' ]"
cmds=$(PTUNE_NO_REEXEC=1 "$D$P/bin/ptune" --help | awk '/^commands:/ {on = 1; next}
    on && /^  [a-z]/ {print $1; next} on {exit}')
missing=""
for c in $cmds; do
    grep -q "^\.SS \"ptune $c\"" "$D$P/share/man/man1/ptune.1" || missing="$missing $c"
done
check "ptune(1) has a section for each of: $(echo $cmds)" "[ -n '$cmds' ] && [ -z '$missing' ]"
opts_ok=1
for c in $cmds; do
    for o in $(PTUNE_NO_REEXEC=1 "$D$P/bin/ptune" $c --help |
        sed -n 's/^  *\(-[a-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p'); do
        e=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        grep -q -- "$e" "$D$P/share/man/man1/ptune.1" || { opts_ok=0; echo "  ptune $c $o not in ptune(1)"; }
    done
done
check "ptune(1) lists every option of every command's --help" "[ $opts_ok = 1 ]"
for f in $(grep -o 'pt_[a-z0-9_]*' $T/api.txt); do
    grep -q "$f" "$D$P/share/man/man3/ptune.3" || { bad "ptune(3) lacks $f"; }
done
if command -v groff > /dev/null; then
    for s in 1 3; do
        w=$(groff -man -Tutf8 -ww -z "$D$P/share/man/man$s/ptune.$s" 2>&1)
        check "ptune($s) formats without warnings" "[ -z \"\$w\" ]"
        [ -z "$w" ] || echo "$w" | head -3
    done
else
    echo "  SKIPPED: groff absent (man page formatting not checked)"
fi

# ---- build the example against the installed library with pkg-config alone
export PKG_CONFIG_PATH="$L/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
check "pkg-config --modversion ptune = $VERSION" "[ \"\$(pkg-config --modversion ptune)\" = '$VERSION' ]"
echo "  pkg-config --cflags --libs ptune: $(pkg-config --cflags --libs ptune)"
echo "  pkg-config --static --libs ptune: $(pkg-config --static --libs ptune)"
if $CC -o $T/classify_shared examples/classify.c $(pkg-config --cflags --libs ptune) 2> $T/cc.log; then
    ok "shared: cc examples/classify.c \$(pkg-config --cflags --libs ptune)"
else
    bad "shared build: $(tail -3 $T/cc.log)"
fi
# Fully static (the system's static libraries: libopenblas.a, libgomp.a, libc.a);
# where one is missing, libptune.a with the system libraries shared.
static_how="-static"
if ! $CC -static -o $T/classify_static examples/classify.c \
    $(pkg-config --static --cflags --libs ptune) 2> $T/cc.log; then
    echo "  SKIPPED: fully static link ($(grep -m1 -i 'cannot find\|error' $T/cc.log)); linking" \
        "libptune.a with shared system libraries instead"
    static_how="libptune.a"
    $CC -o $T/classify_static examples/classify.c \
        $(pkg-config --static --cflags --libs ptune | sed 's/-lptune\b/-l:libptune.a/') 2> $T/cc.log
fi
if [ -x $T/classify_static ]; then
    ok "static ($static_how): cc examples/classify.c \$(pkg-config --static --cflags --libs ptune)"
else
    bad "static build: $(tail -3 $T/cc.log)"
fi
check "the static build needs no libptune.so" "! ldd $T/classify_static 2> /dev/null | grep -q libptune"
check "the shared build loads the installed libptune.so.$MAJOR" \
    "LD_LIBRARY_PATH='$L' ldd $T/classify_shared | grep -q '$L/libptune.so.$MAJOR'"

# ---- run them (and the in-tree build) on the worked example's task
M=$ROOT/tests/fixtures/gpt2/tiny F=$ROOT/tests/fixtures/learn
run() { # DIR PROGRAM [env]: runs the example in DIR
    mkdir -p $T/$1
    (cd $T/$1 && env $3 OMP_NUM_THREADS=2 "$2" $M $F/train.jsonl $F/dev.jsonl \
        "[P*4] {sentence} [P*2] It is a [MASK]" "animal:animal,fruit:fruit" "the dog is big" \
        > out.txt 2> err.txt)
}
run shared $T/classify_shared "LD_LIBRARY_PATH=$L"
check "shared build runs" "[ $? -eq 0 ] && grep -q 'the dog is big\" -> animal' $T/shared/out.txt"
run static $T/classify_static
check "static build runs" "[ $? -eq 0 ] && grep -q 'the dog is big\" -> animal' $T/static/out.txt"
case $B in /*) EX=$B/examples/classify ;; *) EX=$ROOT/$B/examples/classify ;; esac
run tree "$EX"
echo "  $(tail -2 $T/static/out.txt | tr '\n' ' ')"
check "static, shared and in-tree builds print the same" \
    "cmp -s $T/static/out.txt $T/shared/out.txt && cmp -s $T/static/out.txt $T/tree/out.txt"
check "and write the same prompt file" \
    "cmp -s $T/static/classify-example.safetensors $T/shared/classify-example.safetensors &&
     cmp -s $T/static/classify-example.safetensors $T/tree/classify-example.safetensors"

# ---- uninstall
make -s --no-print-directory uninstall BUILD="$B" DESTDIR="$D" PREFIX=$P > $T/uninstall.log 2>&1
left=$(find "$D" ! -type d | wc -l)
check "make uninstall removes every file ($left left)" "[ $left -eq 0 ]"
exit $fail

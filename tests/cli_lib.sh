# cli_lib.sh - helpers shared by the shell tests (sourced, not run).
# Sourcing sets fail=0; a test then reports with ok / bad / check / expect_err and
# exits with $fail. T must name the test's temporary directory for expect_err.
fail=0
ok() { printf '  ok   %s\n' "$1"; }
bad() { printf '  FAIL %s\n' "$1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# expect_err NAME EXPECTED-TEXT COMMAND...: the command must fail with the text on stderr
expect_err() {
    name=$1 want=$2
    shift 2
    "$@" > $T/o.txt 2> $T/e.txt
    rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$want" $T/e.txt; then
        ok "$name: $(head -1 $T/e.txt)"
    else
        bad "$name (rc $rc): $(cat $T/e.txt)"
    fi
}
# the accuracy field of an eval --json line
json_acc() { sed 's/.*"accuracy":\([0-9.]*\).*/\1/'; }
# st_patch FILE TENSOR INDEX BYTES: overwrite float32 element INDEX of a safetensors
# tensor with 4 bytes given as printf escapes (NaN: '\000\000\300\177')
st_patch() {
    _n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
    _b=$(dd if="$1" bs=1 skip=8 count=$_n 2> /dev/null | grep -o "\"$2\":{[^}]*}" |
        sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
    [ -n "$_b" ] || { echo "st_patch: no tensor $2 in $1"; return 1; }
    printf "$4" | dd of="$1" bs=1 seek=$((8 + _n + _b + 4 * $3)) conv=notrunc 2> /dev/null
}

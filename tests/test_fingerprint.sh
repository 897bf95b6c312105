#!/bin/sh
# test_fingerprint.sh - the model fingerprint equals the README's definition as
# computed independently (scripts/gen_fingerprint.py: FNV-1a over the float32
# word embeddings, numpy, fixture tests/fixtures/fingerprint/expected.txt);
# a prompt file carrying ptune 0.1's fingerprint (the offset basis missing its
# last digit) loads with a one-line note, and a wrong fingerprint is refused.
PT=${PTUNE_BIN:-build/ptune}
E=tests/fixtures/fingerprint/expected.txt
T=$(mktemp -d /tmp/ptune_fp.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
while read -r dir kind want; do
    [ "$kind" = new ] || continue
    got=$($PT info "$dir" | sed -n 's/^fingerprint: *//p')
    check "$dir: fingerprint $got == numpy's $want" '[ "$got" = "$want" ]'
done < $E
M=tests/fixtures/gpt2/tiny D=tests/fixtures/learn
new=$(grep "^$M new" $E | cut -d' ' -f3) old=$(grep "^$M old" $E | cut -d' ' -f3)
$PT train --model $M --train $D/train.jsonl --template "[P*2] {sentence} It is a [MASK]" \
    --labels animal:animal,fruit:fruit --steps 2 --seed 1 --quiet --out $T/p.st 2> $T/e.txt ||
    bad "train: $(cat $T/e.txt)"
check "the prompt file records the new fingerprint" 'grep -a -q "$new" $T/p.st'
$PT eval --model $M --prompt $T/p.st --data $D/dev.jsonl --json > $T/ref.json 2> $T/e.txt
LC_ALL=C sed "s/$new/$old/" $T/p.st > $T/old.st
LC_ALL=C sed "s/$new/0123456789abcdef/" $T/p.st > $T/wrong.st
check "patched copy holds the old fingerprint" 'grep -a -q "$old" $T/old.st'
$PT eval --model $M --prompt $T/old.st --data $D/dev.jsonl --json > $T/old.json 2> $T/e.txt
rc=$?
check "old fingerprint accepted (rc $rc), same result" '[ $rc -eq 0 ] && cmp -s $T/ref.json $T/old.json'
check "with a one-line note: $(head -1 $T/e.txt)" '[ $(wc -l < $T/e.txt) -eq 1 ]'
expect_err "a wrong fingerprint is refused" "another model" \
    $PT eval --model $M --prompt $T/wrong.st --data $D/dev.jsonl
exit $fail

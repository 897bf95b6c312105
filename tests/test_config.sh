#!/bin/sh
# test_config.sh - `--config FILE.json` (every command, tools/ptune/args.c):
#  - a training run from a config file writes the same prompt file, byte for
#    byte, as the same run from flags (numbers, strings and flags, --recompute);
#  - an option on the command line overrides the file's (--seed: the file of
#    the overridden run equals the flags run with that seed, and differs from
#    the file's seed); a false flag leaves it unset;
#  - the checkpoint records the options read from the file, so --resume alone
#    continues a run whose config file has since been deleted;
#  - eval reads --config too (the same line as from flags);
#  - an unknown key, a value of the wrong type, a file that is not an object
#    malformed JSON and a key given twice are refused, naming the key (and the type expected)
#    and the file;
#  - `ptune help train` lists --config (and so does the man page).
PT=${PTUNE_BIN:-build/ptune}
G=tests/fixtures/gpt2/tiny D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_config.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh
TM="[P*4] {sentence} [P*2] It is a [MASK]"
L=animal:animal,fruit:fruit

cat > $T/run.json <<JSON
{"model": "$G", "train": "$D/train.jsonl", "template": "$TM", "labels": "$L",
 "lr": 0.03, "steps": 6, "batch": 4, "seed": 7, "encoder": "mlp", "recompute": true,
 "no-length-groups": false, "quiet": true}
JSON
flags() { $PT train -m $G --train $D/train.jsonl --template "$TM" --labels $L --lr 0.03 --steps 6 \
    --batch 4 --encoder mlp --recompute --quiet "$@"; }
$PT train --config $T/run.json --out $T/cfg.safetensors
flags --seed 7 --out $T/flags.safetensors
check "train --config = the same flags (prompt file byte for byte)" "cmp -s $T/cfg.safetensors $T/flags.safetensors"
$PT train --config $T/run.json --seed 9 --out $T/cfg9.safetensors
flags --seed 9 --out $T/flags9.safetensors
check "--seed 9 on the command line overrides the file's 7" \
    "cmp -s $T/cfg9.safetensors $T/flags9.safetensors && ! cmp -s $T/cfg9.safetensors $T/cfg.safetensors"
check "--config=FILE form" "$PT train --config=$T/run.json --out $T/eq.safetensors && cmp -s $T/eq.safetensors $T/cfg.safetensors"

# the checkpoint holds the options, not the file's name: resume without the file
sed 's/"steps": 6/"steps": 12/' $T/run.json > $T/long.json
$PT train --config $T/long.json --out $T/long.safetensors --interrupt-at 5 2> /dev/null
rc=$?
rm $T/long.json
$PT train --resume $T/long.safetensors.ckpt --quiet 2> $T/resume.txt
rc2=$?
flags --seed 7 --steps 12 --out $T/long_flags.safetensors
check "interrupted (rc $rc), resumed without the config file (rc $rc2), = the uninterrupted run" \
    "[ $rc = 130 ] && [ $rc2 = 0 ] && cmp -s $T/long.safetensors $T/long_flags.safetensors"

# eval
echo "{\"model\": \"$G\", \"prompt\": \"$T/cfg.safetensors\", \"data\": \"$D/dev.jsonl\", \"json\": true}" > $T/eval.json
$PT eval --config $T/eval.json > $T/e1.txt
$PT eval -m $G --prompt $T/cfg.safetensors --data $D/dev.jsonl --json > $T/e2.txt
check "eval --config = eval with flags: $(cat $T/e1.txt)" "[ -s $T/e1.txt ] && cmp -s $T/e1.txt $T/e2.txt"

# errors name the key and the file
echo '{"model": "x", "learning-rate": 0.1}' > $T/bad1.json
expect_err "unknown key" "--config $T/bad1.json: unknown key \"learning-rate\"" $PT train --config $T/bad1.json
echo '{"steps": true}' > $T/bad2.json
expect_err "a flag value for an option" "key \"steps\": expected a string or a number (N), not true" $PT train --config $T/bad2.json
echo '{"recompute": "yes"}' > $T/bad3.json
expect_err "a string for a flag" "$T/bad3.json: key \"recompute\": expected true or false (a flag), not a string" $PT train --config $T/bad3.json
echo '{"lr": [0.1]}' > $T/bad4.json
expect_err "an array" "key \"lr\": expected a string or a number (X), not an array" $PT train --config $T/bad4.json
echo '[1, 2]' > $T/bad5.json
expect_err "not an object" "$T/bad5.json: expected a JSON object of options" $PT eval --config $T/bad5.json
printf '{"lr": 0.1,\n "steps": }\n' > $T/bad6.json
expect_err "malformed JSON (line named)" "$T/bad6.json.*line 2" $PT train --config $T/bad6.json
expect_err "missing file" "$T/none.json" $PT train --config $T/none.json
echo '{"lr": 0.1, "lr": 0.2}' > $T/bad8.json
expect_err "a key twice" "$T/bad8.json: key \"lr\" is given twice" $PT train --config $T/bad8.json
echo '{"top": 3}' > $T/bad7.json
expect_err "an option of another command" "unknown key \"top\" (not an option of ptune train" $PT train --config $T/bad7.json

check "ptune help train lists --config" "$PT help train | grep -q -- '--config FILE.json'"
MAN=${BUILD:-build}/man/ptune.1
if [ -f $MAN ]; then
    check "the man page lists --config" "grep -q -- 'config.fR .fIFILE.json' $MAN"
else
    echo "  SKIPPED: no $MAN built"
fi
exit $fail

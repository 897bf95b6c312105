#!/bin/sh
# test_cli_help.sh - help and short forms of the ptune tool:
#  - `ptune help CMD`, `ptune CMD --help` and `ptune CMD -h` print the same text
#    for every command `ptune --help` lists, and the text shows the short forms;
#  - -m / -t / -s / -o mean --model / --threads / --seed / --out: a training run
#    with the short forms writes the same prompt file, byte for byte, as with
#    the long ones, and eval prints the same line ("-mPATH" too);
#  - testing-only flags ("testing aid:") are accepted but not listed;
#  - --quiet (no warnings) and --verbose (what was loaded) on every command;
#  - a short form a command does not have is still an unknown option.
PT=${PTUNE_BIN:-build/ptune}
G=tests/fixtures/gpt2/tiny D=tests/fixtures/learn
T=$(mktemp -d /tmp/ptune_help.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/cli_lib.sh

cmds=$($PT --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1; next} on {exit}')
same=1
for c in $cmds; do
    $PT help $c > $T/a.txt 2>&1
    $PT $c --help > $T/b.txt 2>&1
    $PT $c -h > $T/c.txt 2>&1
    if ! [ -s $T/a.txt ] || ! cmp -s $T/a.txt $T/b.txt || ! cmp -s $T/a.txt $T/c.txt; then
        same=0
        echo "  ptune help $c, $c --help and $c -h differ"
    fi
done
check "ptune help CMD = ptune CMD --help = ptune CMD -h for: $(echo $cmds)" "[ -n '$cmds' ] && [ $same = 1 ]"
check "ptune train --help shows -m, -t, -s, -o and -h" \
    "$PT train --help | grep -q -- '-m, --model' && $PT train --help | grep -q -- '-t, --threads' &&
     $PT train --help | grep -q -- '-s, --seed' && $PT train --help | grep -q -- '-o, --out' &&
     $PT train --help | grep -q -- '-h, --help'"

tm="[P*2]{sentence} It is a [MASK]"
common="--train $D/train.jsonl --labels animal:animal,fruit:fruit --steps 3 --batch 8 --quiet"
$PT train --model $G --threads 1 --seed 7 --out $T/long.st --template "$tm" $common 2> $T/e1.txt
$PT train -m $G -t 1 -s 7 -o $T/short.st --template "$tm" $common 2> $T/e2.txt
check "train -m -t -s -o = --model --threads --seed --out (same prompt file)" \
    "[ -s $T/long.st ] && cmp -s $T/long.st $T/short.st"
$PT train --model $G --seed 8 --out $T/other.st --template "$tm" $common 2> /dev/null
check "and -s is the seed (another seed, another file)" "! cmp -s $T/long.st $T/other.st"
$PT eval --model $G --prompt $T/long.st --data $D/dev.jsonl --json > $T/l.txt
$PT eval -m$G --prompt $T/long.st --data $D/dev.jsonl --json > $T/s.txt
check "eval -mPATH = --model PATH ($(cat $T/s.txt))" "[ -s $T/l.txt ] && cmp -s $T/l.txt $T/s.txt"
check "testing-only flags are hidden from --help (train --interrupt-at)" \
    "! $PT train --help | grep -q -- '--interrupt-at'"
$PT train -m $G -o $T/int.st --template "$tm" $common --steps 6 --interrupt-at 2 2> /dev/null
check "and still accepted (--interrupt-at 2 leaves a checkpoint)" "[ -s $T/int.st.ckpt ]"
# --quiet / --verbose on every command (standard output the same)
F=tests/fixtures/peft
ev="eval -m $G --prompt $F/foreign --labels animal:animal,fruit:fruit --data $F/foreign_dev.jsonl --json"
$PT $ev > $T/n.out 2> $T/n.err
$PT $ev --quiet > $T/q.out 2> $T/q.err
$PT $ev --verbose > $T/v.out 2> $T/v.err
check "eval: a warning by default, none with --quiet, and --verbose says what it loaded" \
    "grep -q warning $T/n.err && [ ! -s $T/q.err ] && grep -q 'loaded $G (gpt2' $T/v.err"
check "and standard output is the same all three ways" "[ -s $T/n.out ] && cmp -s $T/n.out $T/q.out && cmp -s $T/n.out $T/v.out"
$PT export --peft $T/exq --prompt $F/prompt.safetensors --model $G --quiet 2> $T/xq.err
check "export --quiet writes the adapter and says nothing" "[ -s $T/exq/adapter_config.json ] && [ ! -s $T/xq.err ]"
noq=""
for c in $cmds; do
    $PT $c --help | grep -q -- '--quiet' && $PT $c --help | grep -q -- '--verbose' || noq="$noq $c"
done
check "every command's --help lists --quiet and --verbose" "[ -z '$noq' ]"
expect_err "-s where the command has no --seed" "unknown option '-s'" $PT info -s 3 $G
expect_err "-m without its value" "needs a value" $PT eval -m
exit $fail

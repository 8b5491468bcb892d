#!/usr/bin/env bash
# Builds `phalanx` with profile-guided optimisation, to measure what PGO
# gives the import. A measuring tool, not the project's release build:
# a PGO build optimises for size the code its training never ran, and this
# training runs only the import path (step 3). Measured in session 24
# (bench/RESULTS.md, Import): no gain outside the machine's drift (eight
# alternating 1M imports, CPU seconds summed 200.8 against 202.3).
#
#   bench/pgo/build.sh [--count N]
#
# 1. adds rustup's llvm-tools (llvm-profdata) when missing;
# 2. builds an instrumented release binary: Rust code with
#    -Cprofile-generate, SQLite and mimalloc with gcc -fprofile-generate
#    (through bench/pgo/cc.sh); in $CARGO_TARGET_DIR/pgo-generate;
# 3. trains it: a corpus of N objects (default 200,000) made by
#    bench/gen_corpus.py with seed 7 (the import benchmark uses seed 42,
#    so the two corpora share no object), imported as one bundle into a
#    fresh data directory, then as JSON lines into the same directory
#    (every object unchanged), then exported and counted;
# 4. merges the Rust profile and collects the two gcc profiles;
# 5. builds the optimised binary in $CARGO_TARGET_DIR/pgo-use and copies
#    it to bench/out/phalanx-pgo.
#
# Then: bench/import/run.sh --bin bench/out/phalanx-pgo
#
# Needs gcc (libgcov) and rustup; about 20 minutes cold on 2 cores.
# Nothing here is committed: bench/out/ is git-ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count=200000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --count) [[ $# -ge 2 ]] || { echo "build.sh: --count needs a value" >&2; exit 2; }; count="$2"; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$count" =~ ^[0-9]+$ && "$count" -gt 0 ]] || { echo "build.sh: --count must be a positive integer" >&2; exit 2; }

log() { echo "pgo/build.sh: $*" >&2; }
out="$root/bench/out"
work="$out/pgo"
target_base="${CARGO_TARGET_DIR:-$root/target}"
triple=x86_64-unknown-linux-gnu
mkdir -p "$out"
rm -rf "$work"
mkdir -p "$work/rust-profile" "$work/c-profile"

# 1. llvm-profdata of this toolchain's LLVM (the profile format follows it)
sysroot="$(rustc --print sysroot)"
profdata="$sysroot/lib/rustlib/$triple/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
    log "adding rustup's llvm-tools"
    timeout 600 rustup component add llvm-tools
fi
[[ -x "$profdata" ]] || { log "error: no $profdata"; exit 2; }

# Both builds name the target so that RUSTFLAGS reach only the target's
# crates, not build scripts and proc macros.
# CFLAGS only marks the profile: cc-built crates rebuild when it changes.
build() {
    local dir="$1" mode="$2" rustflags="$3" cflags="$4"
    (cd "$root" && CARGO_TARGET_DIR="$dir" RUSTFLAGS="$rustflags" CFLAGS="$cflags" CC="$here/cc.sh" \
        PHALANX_PGO_MODE="$mode" PHALANX_PGO_DIR="$work/c-profile" \
        timeout 3600 cargo build --release -q -p phalanx --target "$triple")
}

# 2. instrumented build
log "building the instrumented binary in $target_base/pgo-generate"
build "$target_base/pgo-generate" generate "-Cprofile-generate=$work/rust-profile -Clink-arg=-lgcov" ""
instrumented="$target_base/pgo-generate/$triple/release/phalanx"
# gcc writes a profile beside each instrumented object; old ones would add up
find "$target_base/pgo-generate/$triple/release/build" -name '*.gcda' -delete

# 3. training
corpus="$work/train-$count.json"
log "generating the training corpus ($count objects, seed 7)"
timeout 1800 python3 "$root/bench/gen_corpus.py" --count "$count" --seed 7 --format bundle --out "$corpus"
timeout 1800 python3 "$root/bench/gen_corpus.py" --count "$count" --seed 7 --format jsonl --out "$corpus.jsonl"
data="$work/data"
log "training: import, import again, export, stats"
timeout 60 "$instrumented" --data "$data" init >/dev/null
timeout 3600 "$instrumented" --data "$data" import "$corpus" > "$work/train-import.log"
timeout 3600 "$instrumented" --data "$data" import "$corpus.jsonl" > "$work/train-reimport.log"
grep -q "^total: stored 0, unchanged $count, refused 0" "$work/train-reimport.log" \
    || { log "error: the second training import did not find every object unchanged"; tail -3 "$work/train-reimport.log" >&2; exit 2; }
timeout 3600 "$instrumented" --data "$data" export > /dev/null
timeout 600 "$instrumented" --data "$data" stats > /dev/null

# 4. profiles, named by their digest so that a new profile rebuilds what
#    it optimises (cargo and cc track the flags, not the files they name)
"$profdata" merge -o "$work/phalanx.profdata" "$work/rust-profile"
for name in sqlite3 static; do
    found=$(find "$target_base/pgo-generate/$triple/release/build" -name "*-$name.gcda" | head -1)
    [[ -n "$found" ]] || { log "error: the training left no gcc profile of $name.c"; exit 2; }
    cp "$found" "$work/c-profile/$name.gcda"
done
digest=$(cat "$work/phalanx.profdata" "$work/c-profile/sqlite3.gcda" "$work/c-profile/static.gcda" | sha256sum | cut -c1-16)
mv "$work/phalanx.profdata" "$work/phalanx-$digest.profdata"

# 5. optimised build
log "building the optimised binary in $target_base/pgo-use"
build "$target_base/pgo-use" use "-Cprofile-use=$work/phalanx-$digest.profdata" "-DPHALANX_PGO_PROFILE=$digest"
cp "$target_base/pgo-use/$triple/release/phalanx" "$out/phalanx-pgo"
log "done: $out/phalanx-pgo"

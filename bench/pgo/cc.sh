#!/usr/bin/env bash
# C compiler wrapper for bench/pgo/build.sh (set as CC): gives gcc's
# profile-guided optimisation to the two C sources on the import's hot
# path, SQLite's amalgamation (libsqlite3-sys) and mimalloc (libmimalloc-sys),
# and compiles every other C source (aws-lc, ...) exactly as plain gcc.
#
#   PHALANX_PGO_MODE=generate  instrument them (the .gcda profile is written
#                              beside each object file when the program exits)
#   PHALANX_PGO_MODE=use       copy $PHALANX_PGO_DIR/NAME.gcda beside the
#                              object file (gcc looks for it there), then
#                              compile with -fprofile-use (functions the
#                              training never ran get no profile: no warning)
#   unset                      plain gcc
#
# The profile is copied per source rather than found by gcc itself because
# the two builds' object directories differ: cargo's OUT_DIR hash includes
# RUSTFLAGS, which differ between the instrumented and the optimised build.
set -euo pipefail
src=""
obj=""
prev=""
for arg in "$@"; do
    case "$arg" in
        *sqlite3/sqlite3.c | */mimalloc/*/src/static.c | */mimalloc/src/static.c) src="$arg" ;;
    esac
    [[ "$prev" == "-o" ]] && obj="$arg"
    prev="$arg"
done
extra=()
if [[ -n "$src" && -n "$obj" ]]; then
    name="$(basename "$src" .c)"
    case "${PHALANX_PGO_MODE:-}" in
        generate) extra=(-fprofile-generate -fprofile-update=atomic) ;;
        use)
            profile="${PHALANX_PGO_DIR:?PHALANX_PGO_DIR must name the directory of the .gcda profiles}/$name.gcda"
            [[ -s "$profile" ]] || { echo "bench/pgo/cc.sh: no profile $profile for $src" >&2; exit 1; }
            cp "$profile" "${obj%.o}.gcda"
            extra=(-fprofile-use -fprofile-correction -Wno-missing-profile -Werror=coverage-mismatch)
            ;;
    esac
fi
exec gcc "$@" "${extra[@]}"

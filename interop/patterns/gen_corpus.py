#!/usr/bin/env python3
"""Regenerate corpus.txt: STIX 2.1 patterns for the differential test, one per line.

Sections, in order:
  1. patterns of `indicator` objects found in the third-party data (../shared/data), if present;
  2. hand-written valid patterns covering every feature of the grammar;
  3. hand-written invalid patterns (and edge cases either way);
  4. seeded random mutations of sections 1-3 (missing brackets, bad operators, bad literals,
     unbalanced quotes, bad qualifiers, ...). Mutants may happen to be valid; the differential
     test compares verdicts, whatever they are.

Lines starting with '#' are comments. No pattern contains a line break. The output is
deterministic for a given input data set (fixed seed, sorted inputs).

Usage: python3 interop/patterns/gen_corpus.py [--data DIR] [--out FILE] [--mutants N]
Standard library only.
"""

import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEED = 20261128

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TS = "t'2016-06-01T00:00:00Z'"
TS2 = "t'2016-07-01T00:00:00.123Z'"

VALID = [
    # observation expressions and precedence
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'example.com']",
    "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'example.com']",
    "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'example.com']",
    "[a:b = 1] OR [a:c = 2] AND [a:d = 3] FOLLOWEDBY [a:e = 4]",
    "[a:b = 1] FOLLOWEDBY [a:c = 2] OR [a:d = 3] AND [a:e = 4]",
    "([a:b = 1] OR [a:c = 2]) AND [a:d = 3]",
    "[a:b = 1] AND ([a:c = 2] FOLLOWEDBY [a:d = 3])",
    "(([a:b = 1]))",
    "( [a:b = 1] )",
    "[a:b = 1] AND [a:c = 2] AND [a:d = 3] AND [a:e = 4]",
    "[a:b = 1]AND[a:c = 2]",
    "[a:b=1]FOLLOWEDBY[a:c=2]",
    # qualifiers
    "[a:b = 1] WITHIN 300 SECONDS",
    "[a:b = 1] WITHIN 0 SECONDS",
    "[a:b = 1] WITHIN 2.5 SECONDS",
    "[a:b = 1] WITHIN .5 SECONDS",
    "[a:b = 1] WITHIN +5 SECONDS",
    "[a:b = 1] WITHIN 5SECONDS",
    "[a:b = 1] REPEATS 5 TIMES",
    "[a:b = 1] REPEATS 0 TIMES",
    "[a:b = 1] REPEATS +2 TIMES",
    f"[a:b = 1] START {TS} STOP {TS2}",
    f"[a:b = 1] START t'2016-02-30T23:59:60Z' STOP t'9999-12-31T23:59:59.999999999Z'",
    f"[a:b = 1] REPEATS 5 TIMES WITHIN 1800 SECONDS START {TS} STOP {TS2}",
    f"[a:b = 1] START {TS} STOP {TS2} WITHIN 1 SECONDS REPEATS 2 TIMES",
    "([a:b = 1] FOLLOWEDBY [a:c = 2]) WITHIN 300 SECONDS",
    "([a:b = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS",
    "([a:b = 1] REPEATS 2 TIMES OR [a:c = 2]) REPEATS 3 TIMES",
    "[a:b = 1] WITHIN 5 SECONDS AND [a:c = 2] WITHIN 5 SECONDS",
    "([a:b = 1]) WITHIN 1 SECONDS WITHIN 2 SECONDS",
    # comparison expressions
    "[a:b = 1 AND a:c = 2]",
    "[a:b = 1 OR a:c = 2 AND a:d = 3]",
    "[(a:b = 1 OR a:c = 2) AND a:d = 3]",
    "[((a:b = 1))]",
    "[a:b = 1 OR (a:c = 2 OR (a:d = 3 AND (a:e = 4)))]",
    "[a:b=1AND a:c=2]",
    # operators
    "[a:b = 1]", "[a:b == 1]", "[a:b != 1]", "[a:b <> 1]", "[a:b > 1]", "[a:b < 1]",
    "[a:b >= 1]", "[a:b <= 1]",
    "[a:b IN (1, 2, 3)]", "[a:b IN ()]", "[a:b IN ('x')]",
    "[a:b IN (1, 'a', 2.5, true, h'ff', b'AA==', t'2016-01-01T00:00:00Z')]",
    "[a:b LIKE 'foo%']", "[a:b MATCHES '^foo$']",
    "[a:b ISSUBSET '198.51.100.0/24']", "[a:b ISSUPERSET '198.51.100.0/24']",
    "[EXISTS a:b]", "[NOT EXISTS a:b]", "[EXISTS a:b.c[*]]",
    "[a:b NOT = 1]", "[a:b NOT != 1]", "[a:b NOT > 1]", "[a:b NOT <= 1]",
    "[a:b NOT IN (1)]", "[a:b NOT LIKE 'x']", "[a:b NOT MATCHES 'x']",
    "[a:b NOT ISSUBSET 'x']", "[a:b NOT ISSUPERSET 'x']",
    "[a:b > 'x']", f"[a:b < {TS}]", "[a:b >= h'00']", "[a:b <= b'AAAA']", "[a:b > -1.5]",
    "[a:b = true]", "[a:b != false]",
    # object paths
    "[file:hashes.'SHA-256' = '" + SHA256 + "']",
    "[file:hashes.MD5 = '" + MD5 + "']",
    "[file:hashes.'SHA-1' = '" + SHA1 + "']",
    "[file:hashes.sha256 = '" + SHA256 + "']",
    "[file:hashes.'x-custom' = 'anything']",
    "[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C'] ",
    "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
    "[network-traffic:src_ref.value = '198.51.100.1']",
    "[email-message:body_multipart[0].body_raw_ref.name = 'a.exe']",
    "[a:b[0][1][*] = 1]",
    "[a:b[+1] = 1]",
    "[a : b . c [ * ] = 1]",
    "[a:'b'.'c d'.'e\\'f' = 1]",
    "[x-custom-type:x_prop = 1]",
    "[_:_ = 1]",
    "[A1-:b_2 = 1]",
    "[a:b.c_ref.d_refs[*].e = 'x']",
    # literals
    "[a:b = 'it\\'s']", "[a:b = 'back\\\\slash']", "[a:b = '']", "[a:b = 'ünïcødé ☃']",
    "[a:b = 'a // b /* c */']", "[a:b = 'tab\tinside']",
    "[a:b = 0]", "[a:b = -0]", "[a:b = -7]", "[a:b = +7]",
    "[a:b = 9223372036854775807]", "[a:b = -9223372036854775808]",
    "[a:b = 7.0]", "[a:b = -.5]", "[a:b = +.5]", "[a:b = 00.5]", "[a:b = 0.000001]",
    "[a:b = h'']", "[a:b = h'ffD8']", "[a:b = b'aGVsbG8=']", "[a:b = b'aGk=']", "[a:b = b'AB==']",
    f"[a:b = {TS}]", "[a:b = t'2016-01-01T00:00:00.1Z']",
    # whitespace and comments
    "[a:b = 1] // trailing comment",
    "[a:b /* inside */ = 1]",
    "[a:b = 1] /* trailing */",
    "\t[a:b = 1]\t",
    "[a:b\u00a0=\u30001]",
    "  ( [a:b = 1] )  ",
]

INVALID = [
    "file:size = 1280",
    "[file:size = ]",
    "[file:hashes.MD5 = " + MD5 + "]",
    "[]",
    "[a:b = 1",
    "a:b = 1]",
    "[a:b = 1]]",
    "[[a:b = 1]]",
    "([a:b = 1]",
    "[a:b = 1])",
    "[(a:b = 1]",
    "[a:b = 1 AND]",
    "[AND a:b = 1]",
    "[a:b = 1] AND",
    "[a:b = 1] [a:c = 2]",
    "[a:b = 1] and [a:c = 2]",
    "[a:b = 1 and a:c = 2]",
    "[a:b = 1] followedby [a:c = 2]",
    "[a:b = 1] WITHIN 5 MINUTES",
    "[a:b = 1] WITHIN -5 SECONDS",
    "[a:b = 1] WITHIN SECONDS",
    "[a:b = 1] WITHIN 5",
    "[a:b = 1] REPEATS 1.5 TIMES",
    "[a:b = 1] REPEATS -1 TIMES",
    "[a:b = 1] REPEATS 2",
    "[a:b = 1] within 5 seconds",
    "[a:b = 1] WITHIN 1 SECONDS WITHIN 2 SECONDS",
    "[a:b = 1] REPEATS 1 TIMES REPEATS 2 TIMES",
    f"[a:b = 1] START {TS} STOP {TS2} START {TS} STOP {TS2}",
    "[a:b = 1] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'",
    f"[a:b = 1] START {TS}",
    f"[a:b = 1] STOP {TS}",
    "WITHIN 5 SECONDS [a:b = 1]",
    "[a:b = 1] WITHIN 5 SECONDS WITHIN",
    "[a:b === 1]", "[a:b =! 1]", "[a:b => 1]", "[a:b =< 1]", "[a:b ! 1]", "[a:b ~ 1]",
    "[a:b equals 1]", "[a:b CONTAINS 'x']", "[a:b in (1)]", "[a:b like 'x']",
    "[a:b NOT EXISTS]", "[a:b EXISTS]", "[NOT a:b = 1]", "[NOT NOT EXISTS a:b]", "[EXISTS]",
    "[a:b NOT NOT = 1]", "[a:b = 1 NOT]",
    "[a:b > true]", "[a:b < false]", "[a:b LIKE 5]", "[a:b MATCHES h'ff']",
    "[a:b ISSUBSET 1]", "[a:b IN 'x']", "[a:b IN 1]", "[a:b = ('x')]", "[a:b IN ((1))]",
    "[a:b IN (1 2)]", "[a:b IN (1,)]", "[a:b IN (,1)]", "[a:b IN (1, 2]",
    "[a:b = TRUE]", "[a:b = True]", "[a:b = null]", "[a:b = x]",
    "[a:b = 007]", "[a:b = 01]", "[a:b = 1.]", "[a:b = 1e5]", "[a:b = - 1]", "[a:b = +]",
    "[a:b = 0x1F]", "[a:b = 1.2.3]",
    "[a:b = h'abc']", "[a:b = h'zz']", "[a:b = H'ff']", "[a:b = h\"ff\"]",
    "[a:b = b'']", "[a:b = b'abc']", "[a:b = b'a===']", "[a:b = b'aA==aGk=']", "[a:b = b'a-bc']",
    "[a:b = t'2016-13-01T00:00:00Z']", "[a:b = t'2016-00-01T00:00:00Z']",
    "[a:b = t'2016-01-32T00:00:00Z']", "[a:b = t'2016-01-01T24:00:00Z']",
    "[a:b = t'2016-01-01T00:60:00Z']", "[a:b = t'2016-01-01T00:00:61Z']",
    "[a:b = t'2016-01-01T00:00:00']", "[a:b = t'2016-01-01T00:00:00.Z']",
    "[a:b = t'2016-01-01 00:00:00Z']", "[a:b = t'2016-01-01T00:00:00+00:00']",
    "[a:b = t'16-01-01T00:00:00Z']", "[a:b = T'2016-01-01T00:00:00Z']",
    "[a:b = 'unterminated]", "[a:b = unterminated']", "[a:b = 'a\\nb']", "[a:b = 'a\\']",
    "[a:b = 'a'b']", "[a:b = \"double\"]",
    "[file:hashes.SHA-256 = 'x']", "[a:b-c = 1]", "[a = 1]", "[a: = 1]", "[a:b. = 1]",
    "[a:b.. c = 1]", "[a:b[1 = 1]", "[a:b[] = 1]", "[a:b[x] = 1]", "[a:b[1.5] = 1]",
    "[a:b[-1] = 1]", "[:b = 1]", "[a::b = 1]", "[a:AND = 1]", "[a:b.OR = 1]", "[1a:b = 1]",
    "[a:b 'c' = 1]", "[a:b.'c' 'd' = 1]", "[a:\"b\" = 1]",
    "[a:b = 1] # comment", "[a:b = 1] /* open comment", "[a:b = 1] / 2", "[a:b = 1] ^",
    "[a:b = 1];",
    "(",
    ")",
    "()",
    "([])",
    "[",
    "]",
    "AND",
    "[a:b = 1] OR OR [a:c = 2]",
    "[a:b = 1] FOLLOWEDBY",
    "[a:b = 1 OR]",
    "[a:b = 1 OR OR a:c = 2]",
    "[(a:b = 1) (a:c = 2)]",
    "[a:b = 1][a:c = 2]",
    "[file:hashes.MD5 = 'abc']",
    "[file:hashes.'SHA-256' = '" + MD5 + "']",
    "[file:hashes.sha1 = 'not-a-hash']",
    "[file:hashes.MD5 IN ('" + MD5 + "')]",
    "[file:hashes.MD5 = h'" + MD5 + "']",
    "[file:hashes.SSDEEP = 'has space']",
    "[file:hashes.MD6 = '    " + SHA256 + "']",
    "[file:hashes.MD6 = '" + SHA256 + "']",
]

# Documented deliberate differences (see DIFFERENCES.md): listed there, kept here so the
# corpus exercises them.
DIFFERENT = [
    "/* leading comment */ [a:b = 1]",
    "[a:b = 99999999999999999999]",
    "[file:hashes[0] = 'x']",
    "[file:hashes.'MD6' = '" + MD5 + "zzz']",
]

INSERT_CHARS = list("[]()'\\=!<>:.,*-+_ 0x") + [" AND ", " OR ", " NOT ", "h'", "b'", "t'", "/*"]
BAD_OPS = ["===", "=!", "=>", "=<", "~", "IS", "EQ", "in", "Like", "CONTAINS", "NOT NOT", "!"]
QUAL_MUTANTS = [
    " WITHIN -1 SECONDS", " WITHIN 1 MINUTES", " WITHIN SECONDS", " REPEATS 1.5 TIMES",
    " REPEATS TIMES", " REPEATS 2", " START t'2016-01-01T00:00:00Z'",
    " START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'", " WITHIN 1 SECONDS WITHIN 2 SECONDS",
    " WITHIN 1e3 SECONDS", " WITHIN 5 SECONDS", " REPEATS 3 TIMES",
    " START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z'",
]
LITERAL_MUTANTS = [
    "h'abc'", "h'gg'", "b'abc'", "b''", "t'2016-13-01T00:00:00Z'", "t'2016-01-01T00:00:00'",
    "'open", "007", "1.", "-", "TRUE", "()", "('a' 'b')", "1e9", "h''", "b'AAAA'", "-0", "+.5",
]


def extract_data_patterns(data_dir):
    """Patterns of STIX indicators in JSON files under data_dir (sorted, unique)."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if (node.get("type") == "indicator" and isinstance(node.get("pattern"), str)
                    and node.get("pattern_type", "stix") == "stix"):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root, dirs, files in os.walk(data_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    walk(json.load(f))
            except (ValueError, UnicodeDecodeError, OSError):
                continue  # a few test files are deliberately broken JSON
    return sorted(p for p in found if "\n" not in p and "\r" not in p)


def mutate(rng, p):
    """One random mutation of pattern p."""
    kind = rng.randrange(12)
    if not p:
        return "["
    i = rng.randrange(len(p))
    if kind == 0:  # delete a character
        return p[:i] + p[i + 1:]
    if kind == 1:  # insert a character or fragment
        return p[:i] + rng.choice(INSERT_CHARS) + p[i:]
    if kind == 2:  # swap two neighbours
        if i + 1 < len(p):
            return p[:i] + p[i + 1] + p[i] + p[i + 2:]
        return p[:-1]
    if kind == 3:  # drop a bracket or parenthesis
        spots = [j for j, c in enumerate(p) if c in "[]()"]
        if spots:
            j = rng.choice(spots)
            return p[:j] + p[j + 1:]
    if kind == 4:  # drop a quote
        spots = [j for j, c in enumerate(p) if c == "'"]
        if spots:
            j = rng.choice(spots)
            return p[:j] + p[j + 1:]
    if kind == 5:  # replace an operator
        for op in [" = ", " != ", " > ", " < ", " IN ", " LIKE ", " MATCHES "]:
            if op in p:
                return p.replace(op, " " + rng.choice(BAD_OPS) + " ", 1)
    if kind == 6:  # add or break a qualifier
        return p + rng.choice(QUAL_MUTANTS)
    if kind == 7:  # replace a literal
        for q in ["'", "h'", "b'", "t'"]:
            start = p.find("= " + q)
            if start >= 0:
                end = p.find("'", start + 2 + len(q))
                if end > 0:
                    return p[:start + 2] + rng.choice(LITERAL_MUTANTS) + p[end + 1:]
    if kind == 8:  # lowercase a keyword
        for kw in ["AND", "OR", "FOLLOWEDBY", "WITHIN", "SECONDS", "NOT", "EXISTS", "IN"]:
            if kw in p:
                return p.replace(kw, kw.lower(), 1)
    if kind == 9:  # truncate
        return p[:i]
    if kind == 10:  # join two patterns with a random operator or none
        return p + rng.choice([" AND ", " OR ", " FOLLOWEDBY ", " ", ""]) + p
    # wrap or unwrap
    return rng.choice(["(" + p + ")", "(" + p, p + ")", "[" + p + "]", p.strip("[]")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"),
                    help="third-party data folder to take indicator patterns from")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus.txt"))
    ap.add_argument("--mutants", type=int, default=350)
    args = ap.parse_args()

    data = extract_data_patterns(args.data) if os.path.isdir(args.data) else []
    seen = set()
    lines = []

    def add(section, patterns):
        lines.append("# " + section)
        for p in patterns:
            if p and p not in seen and "\n" not in p and not p.startswith("#"):
                seen.add(p)
                lines.append(p)

    add("indicator patterns from the third-party data in shared/data (OASIS cti-documentation and "
        "cti-stix2-json-schemas examples, BSD-3-Clause; see shared/data/SOURCES.md)", data)
    add("hand-written: valid", VALID)
    add("hand-written: invalid", INVALID)
    add("hand-written: documented differences (DIFFERENCES.md)", DIFFERENT)

    rng = random.Random(SEED)
    base = [p for p in lines if not p.startswith("#")]
    mutants = []
    fresh = set(seen)
    attempts = 0
    while len(mutants) < args.mutants and attempts < args.mutants * 20:
        attempts += 1
        m = mutate(rng, rng.choice(base))
        if rng.random() < 0.3:
            m = mutate(rng, m)
        if m and m not in fresh and "\n" not in m and "\r" not in m and not m.startswith("#"):
            fresh.add(m)
            mutants.append(m)
    add("seeded mutations (gen_corpus.py, seed %d)" % SEED, mutants)

    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("# STIX 2.1 patterns for differential.py, one per line; '#' lines are comments.\n")
        f.write("# Generated by gen_corpus.py; edit the lists there and regenerate.\n")
        for line in lines:
            f.write(line + "\n")
    count = sum(1 for p in lines if not p.startswith("#"))
    print("wrote %d patterns (%d from data, %d mutants) to %s"
          % (count, len(data), len(mutants), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()

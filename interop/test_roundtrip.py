#!/usr/bin/env python3
"""Third-party data through a real Phalanx node, checked by OASIS tools.

For every STIX bundle under ../shared/data that OASIS stix2-validator
accepts (listed by validate_bundles.py), this:
  1. creates a fresh node (`phalanx init`) and imports the bundle;
  2. exports everything (`phalanx export --all-versions`);
  3. validates the exported bundle with stix2-validator (must be valid);
  4. checks every input object comes back JSON-equal (same id and version).
It also exports a node holding a generated corpus (bench/gen_corpus.py) and
validates that export, so objects Phalanx made or re-serialised are checked.

Usage: .venv-interop/bin/python interop/test_roundtrip.py --phalanx target/debug/phalanx
Prints one line per bundle and a final `N passed, M failed`; exit 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from stix2validator import ValidationOptions, validate_instance

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def run(phalanx, data, *args, stdin=None):
    return subprocess.run([phalanx, "--data", data, *args], capture_output=True, text=True, input=stdin)


def accepted_bundles():
    out = subprocess.run([sys.executable, os.path.join(HERE, "validate_bundles.py"), "--list-valid", SHARED],
                         capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines() if line.strip().endswith(".json")]


def version_of(obj):
    return obj.get("modified") or obj.get("created") or ""


def check_export(phalanx, data, label, *extra):
    out = run(phalanx, data, "export", "--all-versions", *extra)
    if out.returncode != 0:
        return None, [f"{label}: export failed: {out.stderr.strip()}"]
    bundle = json.loads(out.stdout)
    result = validate_instance(bundle, ValidationOptions(version="2.1"))
    errors = []
    if not result.is_valid:
        for err in getattr(result, "errors", []) or []:
            errors.append(f"{label}: {err}")
        errors = errors or [f"{label}: exported bundle is invalid"]
    return bundle, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phalanx", required=True)
    ap.add_argument("--corpus-count", type=int, default=3000)
    args = ap.parse_args()
    phalanx = os.path.abspath(args.phalanx)
    if not os.path.isdir(SHARED):
        print(f"skipped: {SHARED} not found")
        print("0 passed, 0 failed")
        return 0
    passed = failed = 0
    for path in accepted_bundles():
        rel = os.path.relpath(path, SHARED)
        with tempfile.TemporaryDirectory() as data:
            problems = []
            init = run(phalanx, data, "init", "--org-name", "CERT-LT", "--country", "LTU")
            imp = run(phalanx, data, "import", path)
            if init.returncode != 0 or imp.returncode != 0:
                problems.append(f"{rel}: import failed ({imp.returncode}): {imp.stdout[-2000:]}{imp.stderr[-2000:]}")
            bundle, errors = check_export(phalanx, data, rel)
            problems += errors
            if bundle is not None:
                exported = {(o["id"], version_of(o)): o for o in bundle["objects"]}
                with open(path, encoding="utf-8") as f:
                    original = json.load(f)
                for obj in original["objects"]:
                    back = exported.get((obj["id"], version_of(obj)))
                    if back != obj:
                        problems.append(f"{rel}: {obj['id']} did not come back JSON-equal")
            if problems:
                failed += 1
                print(f"FAIL {rel}")
                for p in problems[:10]:
                    print(f"  {p}")
            else:
                passed += 1
                print(f"ok   {rel} ({len(bundle['objects'])} objects exported, valid)")
    # Objects Phalanx writes itself: a generated corpus with explicit defaults.
    with tempfile.TemporaryDirectory() as data:
        corpus = os.path.join(data, "corpus.jsonl")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_corpus.py"), "--count", str(args.corpus_count), "--out", corpus],
                       check=True, capture_output=True)
        run(phalanx, data, "init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU")
        add = run(phalanx, data, "user", "add", "--org", "CERT-LT", "--name", "analyst", "--role", "analyst",
                  "--clearance", "RESTRICTED", "--briefed", "EU")
        # Unmarked objects get an explicit TLP and a Phalanx label marking,
        # so definitions the node generates are validated too.
        imp = run(phalanx, data, "import", "--as", "analyst", "--default-tlp", "green", "--default-label",
                  '{"policy":"EU","classification":"RESTRICTED","releasable_to":["LTU"]}', corpus)
        bundle, errors = check_export(phalanx, data, "generated corpus", "--as", "analyst")
        if add.returncode != 0:
            errors.append(f"generated corpus: user add failed: {add.stderr.strip()}")
        elif bundle is not None and not any(o.get("type") == "marking-definition" and
                                            "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0" in o.get("extensions", {})
                                            for o in bundle["objects"]):
            errors.append("generated corpus: the export carries no Phalanx label marking definition")
        if imp.returncode != 0:
            errors.append(f"generated corpus: import exit {imp.returncode}: {imp.stdout[-1500:]}")
        if errors:
            failed += 1
            print("FAIL generated corpus")
            for p in errors[:10]:
                print(f"  {p}")
        else:
            passed += 1
            print(f"ok   generated corpus ({len(bundle['objects'])} objects exported, valid)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Validate STIX 2.1 bundles with the OASIS stix2-validator (third-party reference).

Usage:
  validate_bundles.py [--expect-valid | --report-only] [--max-errors K] PATH...
  validate_bundles.py --list-valid DIR

PATH may be a file or a directory. Files named on the command line are always
validated. Directories are walked recursively and only the `*.json` files whose
top-level value is an object with "type": "bundle" are validated; other JSON
(MISP events, warninglists, JSON Schemas, single objects) is skipped and counted.

Each file is validated with stix2validator (ValidationOptions(version="2.1"),
default checks, not strict): a verdict line per file, then its first errors.
The last line is exactly `N passed, M failed`.

Exit status: --expect-valid (default): 1 if any file failed, else 0.
             --report-only: 0 whatever the verdicts (2 on usage errors).

--list-valid DIR prints, one per line and sorted, the paths (DIR joined with the
relative path) of the bundle files under DIR that the validator accepts, and
nothing else on stdout; the tests use it to know which third-party bundles must
round-trip. Diagnostics go to stderr.

Runs under <repo>/.venv-interop (made by interop/install.sh): when stix2validator
cannot be imported and that venv exists, the script re-executes itself with it.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(os.path.dirname(HERE), ".venv-interop")
VENV_PY = os.path.join(VENV, "bin", "python")

try:
    from stix2validator import ValidationOptions, validate_instance
    from stix2validator import output as _sv_output
except ImportError:  # pragma: no cover - depends on the environment
    if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(VENV) \
            and not os.environ.get("PHALANX_VALIDATE_REEXEC"):
        os.environ["PHALANX_VALIDATE_REEXEC"] = "1"
        os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("validate_bundles.py: stix2validator is not installed; run interop/install.sh\n")
    sys.exit(2)

_sv_output.set_silent(True)
OPTIONS = ValidationOptions(version="2.1", silent=True)


def load_json(path):
    """Returns (value, error_message)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh), None
    except OSError as exc:
        return None, "cannot read: %s" % exc
    except (UnicodeDecodeError, ValueError) as exc:
        return None, "invalid JSON: %s" % exc


def is_bundle(value):
    return isinstance(value, dict) and value.get("type") == "bundle"


def find_bundles(directory):
    """Yields (path, parsed) for the STIX bundle files under directory; returns the skip count."""
    found, skipped = [], 0
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(".json"):
                continue
            path = os.path.join(dirpath, name)
            value, err = load_json(path)
            if err is None and is_bundle(value):
                found.append((path, value))
            else:
                skipped += 1
    return found, skipped


def validate_value(value):
    """Validate a parsed JSON value. Returns (ok, errors, warning_count)."""
    items = value if isinstance(value, list) else [value]
    errors, warnings, ok = [], 0, True
    for item in items:
        oid = item.get("id", "?") if isinstance(item, dict) else "?"
        try:
            res = validate_instance(item, OPTIONS)
        except Exception as exc:  # ValidationError for non-STIX input, SchemaInvalidError, ...
            ok = False
            errors.append("%s: validator raised %s: %s" % (oid, type(exc).__name__, exc))
            continue
        warnings += len(res.warnings or [])
        if not res.is_valid:
            ok = False
            for e in res.errors:
                msg = str(e)
                if not msg.startswith((res.object_id or oid) + ":"):
                    msg = "%s: %s" % (res.object_id or oid, msg)
                errors.append(msg)
    # the validator can report the same error twice (schema and custom check)
    return ok, list(dict.fromkeys(errors)), warnings


def validate_path(path, value=None):
    if value is None:
        value, err = load_json(path)
        if err is not None:
            return False, [err], 0
    return validate_value(value)


def collect(paths):
    """Returns ([(path, parsed_or_None)], skipped)."""
    todo, skipped = [], 0
    for p in paths:
        if os.path.isdir(p):
            found, sk = find_bundles(p)
            todo.extend(found)
            skipped += sk
        else:
            todo.append((p, None))  # a missing file is reported as failed (cannot read)
    return todo, skipped


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--expect-valid", dest="report_only", action="store_false",
                      help="exit 1 if any file fails (default)")
    mode.add_argument("--report-only", dest="report_only", action="store_true",
                      help="report verdicts, exit 0")
    ap.add_argument("--list-valid", metavar="DIR",
                    help="print the paths of the bundle files under DIR that the validator accepts")
    ap.add_argument("--max-errors", type=int, default=3, metavar="K",
                    help="errors shown per failed file (default 3)")
    ap.add_argument("paths", nargs="*", metavar="PATH")
    ap.set_defaults(report_only=False)
    args = ap.parse_args(argv)

    if args.list_valid:
        if args.paths:
            ap.error("--list-valid takes a directory and no other paths")
        if not os.path.isdir(args.list_valid):
            ap.error("--list-valid: not a directory: %s" % args.list_valid)
        found, _ = find_bundles(args.list_valid)
        for path, value in found:
            ok, errors, _ = validate_value(value)
            if ok:
                print(path)
            else:
                sys.stderr.write("rejected %s: %s\n" % (path, errors[0] if errors else "?"))
        return 0

    if not args.paths:
        ap.error("give at least one file or directory (or --list-valid DIR)")

    todo, skipped = collect(args.paths)
    passed = failed = 0
    for path, value in todo:
        ok, errors, warnings = validate_path(path, value)
        wtxt = " (%d warnings)" % warnings if warnings else ""
        if ok:
            passed += 1
            print("PASS %s%s" % (path, wtxt))
        else:
            failed += 1
            print("FAIL %s: %d errors%s" % (path, len(errors), wtxt))
            for e in errors[:max(args.max_errors, 0)]:
                print("    %s" % e.replace("\n", " "))
            if len(errors) > args.max_errors:
                print("    ... %d more" % (len(errors) - args.max_errors))
        sys.stdout.flush()
    if skipped:
        print("skipped %d JSON files that are not STIX bundles" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    if failed and not args.report_only:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

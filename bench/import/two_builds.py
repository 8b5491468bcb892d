"""The command line shared by the scripts that compare the imports of two
builds (pairs.py, instructions.py): BIN_A BIN_B CORPUS, with arguments
added to one side's `import`."""
import argparse


def arguments(doc, rounds=False):
    """Parses `BIN_A BIN_B CORPUS`, `--a-args` and `--b-args` (and
    `--rounds N` when `rounds`); `doc`'s first line describes the script."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if rounds:
        ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--a-args", default="", help="arguments added to A's import, split at spaces")
    ap.add_argument("--b-args", default="", help="arguments added to B's import, split at spaces")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("corpus")
    return ap.parse_args()

"""The master's layers (docs/architecture.md) hold in the built objects.

Reads the objects of fnwm_master_core, fnwm_common and main.c with nm,
places each on its floor by the table in docs/architecture.md, and fails
when an object references a symbol defined on a higher floor.
"""
import fnmatch
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DOC = os.path.join(REPO, "docs", "architecture.md")

# Upward references still in files being rewritten by others; each names
# the object and the symbol. The list only shrinks: an entry that is no
# longer needed fails the test too. None is left.
PENDING = set()


def floors():
    """{pattern: floor} from the table of docs/architecture.md."""
    table = {}
    with open(DOC, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*L(\d)\s*\|[^|]*\|(.*)\|\s*$", line)
            if not m:
                continue
            for pat in re.findall(r"`([^`]+)`", m.group(2)):
                table[pat] = int(m.group(1))
    return table


def floor_of(name, table):
    if name.startswith("common/"):
        return table.get("common/")
    found = [table[p] for p in table if fnmatch.fnmatchcase(name, p)]
    return found[0] if len(set(found)) == 1 else None


def objects():
    """[(object name, path or archive)] from the environment."""
    out = []
    for var in ("FNWM_MASTER_CORE", "FNWM_COMMON", "FNWM_MAIN_OBJ"):
        path = os.environ.get(var)
        if not path:
            pytest.skip(f"{var} is not set (run through ctest)")
        assert os.path.exists(path), f"{var}={path} does not exist"
        out.append((var, path))
    return out


def symbols():
    """{object: (defined globals, undefined)} over every object."""
    objs = {}
    for var, path in objects():
        r = subprocess.run(["nm", "-A", path], capture_output=True,
                           text=True, check=True)
        for line in r.stdout.splitlines():
            # archive.a:member.c.o: [addr] T sym  or  file.o: [addr] U sym
            m = re.match(r"(.*?):\s*([0-9a-f]*)\s+([A-Za-z])\s+(\S+)$", line)
            if not m:
                continue
            member = m.group(1).rsplit(":", 1)[-1]
            name = os.path.basename(member)
            name = re.sub(r"\.c\.o(bj)?$|\.o$", "", name)
            if var == "FNWM_COMMON":
                name = "common/" + name
            defs, undefs = objs.setdefault(name, (set(), set()))
            kind, sym = m.group(3), m.group(4)
            if kind == "U":
                undefs.add(sym)
            elif kind.isupper():
                defs.add(sym)
    return objs


def test_every_object_has_a_floor():
    table = floors()
    assert table, f"no floor table in {DOC}"
    missing = [n for n in symbols() if floor_of(n, table) is None]
    assert not missing, (
        f"objects on no floor (or on two) of {DOC}'s table: {missing}")


def test_no_reference_upward():
    table = floors()
    objs = symbols()
    owner = {}
    for name, (defs, _) in objs.items():
        for sym in defs:
            owner[sym] = name
    bad, used_pending = [], set()
    for name, (_, undefs) in sorted(objs.items()):
        lo = floor_of(name, table)
        for sym in sorted(undefs):
            up = owner.get(sym)
            if up is None or lo is None:
                continue
            hi = floor_of(up, table)
            if hi is not None and hi > lo:
                if (name, sym) in PENDING:
                    used_pending.add((name, sym))
                    continue
                bad.append(f"{name} (L{lo}) uses {sym} of {up} (L{hi})")
    assert not bad, "references upward:\n  " + "\n  ".join(bad)
    stale = sorted(PENDING - used_pending)
    assert not stale, f"PENDING entries no longer needed: {stale}"

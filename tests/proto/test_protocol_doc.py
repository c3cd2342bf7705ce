"""docs/protocol.md tells the truth about common/proto.h: the same protocol
version, and the same message types, numbers and names, no more, no less.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROTO_H = os.path.join(REPO, "common", "proto.h")
PROTOCOL_MD = os.path.join(REPO, "docs", "protocol.md")


def read(path):
    with open(path) as f:
        return f.read()


def header_version():
    m = re.search(r"#define\s+FNWM_PROTO_VERSION\s+(\d+)\b", read(PROTO_H))
    assert m, "no FNWM_PROTO_VERSION in %s" % PROTO_H
    return int(m.group(1))


def header_types():
    """{number: name} of enum fnwm_msg_type."""
    text = read(PROTO_H)
    m = re.search(r"enum\s+fnwm_msg_type\s*\{(.*?)\};", text, re.S)
    assert m, "no enum fnwm_msg_type in %s" % PROTO_H
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    types = {int(n): name for name, n in
             re.findall(r"\bFNWM_MSG_(\w+)\s*=\s*(\d+)", body)}
    assert types, "no message type in enum fnwm_msg_type"
    return types


def doc_version():
    found = re.findall(r"`FNWM_PROTO_VERSION` \((\d+)\)", read(PROTOCOL_MD))
    assert len(found) == 1, \
        "docs/protocol.md must state `FNWM_PROTO_VERSION` (N) once"
    return int(found[0])


def doc_types():
    """{number: name} of the rows of the Messages table."""
    text = read(PROTOCOL_MD)
    section = text.split("## Messages", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+) `(\w+)`\s*\|", section, re.M)
    numbers = [int(n) for n, _ in rows]
    assert len(numbers) == len(set(numbers)), \
        "a type is listed twice in docs/protocol.md: %s" % rows
    return {int(n): name for n, name in rows}


def test_version_matches():
    assert doc_version() == header_version()


def test_message_types_match():
    doc, header = doc_types(), header_types()
    assert doc == header, (
        "docs/protocol.md and common/proto.h disagree:\n"
        "  only in proto.h: %s\n  only in protocol.md: %s" % (
            sorted(set(header.items()) - set(doc.items())),
            sorted(set(doc.items()) - set(header.items()))))

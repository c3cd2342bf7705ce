"""The command line's documentation agrees with its command tables.

`fnwm help` and `fnwm worker --help` are made from the client's tables
(cli/cli.c, cli/cli-worker.c). The man page (packaging/fnwm.1), the README's
command-line section and the server's own `fnwm --help` (master/main.c)
list the same commands by hand; these tests fail when one of them names a
command the tables do not have, or leaves out one they have, or when a
command's own options differ between its usage and the man page.
"""
import os
import re

from cli_util import EXIT_OK, REPO, cli  # noqa: F401 (fixture)

MAN = os.path.join(REPO, "packaging", "fnwm.1")
README = os.path.join(REPO, "README.md")

# Options that select workers, shown before the command word, not its own.
SELECTION = {"--name", "--uuid", "--all", "--state"}


def options(text):
    """The options a synopsis shows: --long and -s."""
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", text))


def usage_rows(text, head):
    """{name: synopsis} of the two-space rows under head (e.g.
    "commands:"), up to the next blank line; "a | b" rows give a and b.
    The help text starts at one column, the one most rows show."""
    lines = text.splitlines()
    start = [l.strip() for l in lines].index(head) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        if re.match(r"^  \S", line):
            rows.append(line)
    cols = [m.start(1) for m in (re.search(r"\S  +(\S)", l) for l in rows)
            if m]
    col = max(set(cols), key=cols.count)
    found = {}
    for line in rows:
        if len(line) > col and line[col - 1] == " ":
            left = line[2:col].rstrip()
        else:
            left = line[2:].rstrip()
        for part in left.split(" | "):
            name, _, syn = part.partition(" ")
            found[name] = syn
    return found


def table(cli):
    """The client's commands as its usage shows them: {name: synopsis}
    of the top level and of `worker`, and the word each takes."""
    r = cli.run("help", timeout=20)
    assert r.rc == EXIT_OK, r
    top = usage_rows(r.out, "commands:")
    r = cli.run("worker", "--help", timeout=20)
    assert r.rc == EXIT_OK, r
    worker = usage_rows(r.out, "commands for one worker:")
    last = None
    for line in r.out.splitlines():
        m = re.match(r"^(?:usage:)? +fnwm worker ([a-z|]+)(.*)$", line)
        if m:
            last = m.group(1)
            for name in last.split("|"):
                worker.setdefault(name, m.group(2).strip())
        elif last is not None and re.match(r"^ +\[", line):
            worker[last] += " " + line.strip()  # a synopsis goes on
        else:
            last = None
    return top, worker


def words(syn):
    """The bare words of a synopsis: what a command takes ("list")."""
    return {w for w in syn.split() if re.fullmatch(r"[a-z]+", w)}


def strip_options(text):
    """A synopsis without its [..] and (..) groups, the values of the
    selection (--state failed), ARGS and --."""
    text = re.sub(r"--(?:name|uuid|state)[ =][^\s()\[\]|]+", " ", text)
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"\[[^\[\]]*\]|\([^()]*\)", " ", text)
    return re.sub(r"\b[A-Z]+\b|(?<!\S)--(?!\S)", " ", text)


def command_names(spec, takes):
    """The worker commands a documented line names: "worker (--name N |
    --uuid U) start | stop" gives start and stop; the word a command takes
    (modules list) is not a command."""
    names, prev = [], None
    for tok in re.split(r"[\s|]+", strip_options(spec)):
        if not tok or tok.startswith("-"):
            continue
        if prev is not None and tok in takes.get(prev, set()):
            prev = None
            continue
        names.append(tok)
        prev = tok
    return names


def man_entries():
    """The head lines of the man page's COMMANDS section, as plain text."""
    text = open(MAN).read()
    sect = text.split("\n.SH COMMANDS\n", 1)[1].split("\n.SH ", 1)[0]
    heads = re.findall(r"^\.TP\n(.*)$", sect, re.M)
    plain = []
    for h in heads:
        h = re.sub(r"^\.[A-Z]+ ", "", h).replace("\\-", "-")
        plain.append(re.sub(r"\s+", " ", h.replace('"', " ")).strip())
    return plain


def readme_commands():
    """The backquoted commands of the README's list ("Commands: ... e.g.")."""
    text = open(README).read()
    sect = text.split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    para = next(p for p in sect.split("\n\n") if "Commands: " in p)
    listing = re.search(r"Commands: (.*), e\.g\.", para, re.S)
    assert listing, "the README's command line section has no command list"
    return re.findall(r"`([^`]+)`", listing.group(1))


def documented(entries, takes):
    """{top-level command}, {worker command: [its lines]} of entries."""
    top, worker = set(), {}
    for spec in entries:
        first, _, rest = spec.partition(" ")
        if first.startswith("-"):
            continue  # "--state STATE": a variant of the entry before
        top.add(first)
        if first == "worker":
            for name in command_names(rest, takes):
                worker.setdefault(name, []).append(rest)
    return top, worker


def test_man_page_lists_the_table(cli):
    top, worker = table(cli)
    takes = {n: words(s) for n, s in worker.items()}
    man_top, man_worker = documented(man_entries(), takes)
    assert man_top == set(top), (man_top, set(top))
    assert set(man_worker) == set(worker), (set(man_worker), set(worker))


def test_man_page_options_match_the_usage(cli):
    """A command's own options, where its usage shows them, are those of
    its man page entry (an entry for that command alone)."""
    top, worker = table(cli)
    takes = {n: words(s) for n, s in worker.items()}
    entries = man_entries()
    checked = 0
    for spec in entries:
        first, _, rest = spec.partition(" ")
        if first != "worker" and options(top.get(first, "")):
            assert options(rest) == options(top[first]), (spec, top[first])
            checked += 1
        if first != "worker":
            continue
        names = command_names(rest, takes)
        if len(names) == 1 and options(worker[names[0]]) - SELECTION:
            assert options(rest) - SELECTION == \
                options(worker[names[0]]) - SELECTION, (spec, worker[names[0]])
            checked += 1
    # stop, list, new, logs at least: the check is not vacuous.
    assert checked >= 4, checked


def test_readme_lists_the_table(cli):
    """The README's list names the client's commands (the server command,
    startworkermanager, has its own section)."""
    top, worker = table(cli)
    takes = {n: words(s) for n, s in worker.items()}
    doc_top, doc_worker = documented(readme_commands(), takes)
    assert doc_top == set(top) - {"startworkermanager"}, (doc_top, set(top))
    assert set(doc_worker) == set(worker), (set(doc_worker), set(worker))
    assert "startworkermanager" in open(README).read()


def test_server_help_lists_the_table(cli):
    """`fnwm --help` (the server's usage, written by hand) names the same
    commands as `fnwm help`."""
    top, _ = table(cli)
    r = cli.run("--help", timeout=20)
    assert r.rc == EXIT_OK, r
    assert set(usage_rows(r.out, "commands:")) == set(top), r.out

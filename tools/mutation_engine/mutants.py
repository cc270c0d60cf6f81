"""Mutants from mutmut 2.5's generator, as small records: which lines change and to what.

mutmut numbers the mutations of each source line (``RelativeMutationID``: the line's text, an
index on that line, its line number). A `Mutant` keeps that, the replacement text of every line
the mutation changes (mutmut's operators never add or remove lines: a removed decorator leaves
an empty line), and a stable id for hand-written verdicts that survives edits elsewhere in the
file: a hash of the file, the stripped line text, which repeat of that text it is, and the index.
"""
import hashlib
from dataclasses import dataclass

from mutmut import Context, RelativeMutationID, list_mutations, mutate


@dataclass(frozen=True)
class Mutant:
    file: str          # path relative to the repository root
    line: int          # 1-based line of the mutated node
    index: int         # mutmut's mutation index on that line
    line_text: str     # the line as in the source (mutmut's key)
    changes: tuple     # ((line number, new text), ...) for every changed line
    id: str            # stable id, e.g. "ops/matmul.py@3fa2c1d0"

    def apply(self, source):
        """``source`` (the module's text) with this mutant's lines replaced."""
        lines = source.split("\n")
        for number, text in self.changes:
            lines[number - 1] = text
        return "\n".join(lines)

    def diff(self, source):
        """``[("-", old line), ..., ("+", new line), ...]`` of the changed lines."""
        lines = source.split("\n")
        return ([("-", lines[n - 1]) for n, _ in self.changes] + [("+", text) for _, text in self.changes])

    def to_json(self):
        return {"file": self.file, "line": self.line, "index": self.index, "line_text": self.line_text,
                "changes": [list(c) for c in self.changes], "id": self.id}

    @classmethod
    def from_json(cls, d):
        return cls(d["file"], d["line"], d["index"], d["line_text"],
                   tuple((n, t) for n, t in d["changes"]), d["id"])


def short_name(file):
    """``tinygrad_nn/ops/matmul.py`` -> ``ops/matmul.py`` (the package prefix dropped)."""
    head, _, rest = file.partition("/")
    return rest if rest else head


def stable_id(file, line_text, repeat, index):
    key = f"{file}\0{line_text.strip()}\0{repeat}\0{index}".encode()
    return f"{short_name(file)}@{hashlib.sha1(key).hexdigest()[:8]}"


def _line_changes(old, new):
    """((line number, new text), ...) turning ``old`` into ``new`` (lists of lines), keeping the
    line count: a mutation that drops lines (``x = f(\n  a)`` -> ``x = None``) is padded with
    empty lines, so every other line, and every code object's line numbers, stay where they were."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old, end_new = end_old - 1, end_new - 1
    hunk = new[start:end_new]
    if len(hunk) > end_old - start:
        raise RuntimeError("mutmut added lines")
    hunk += [""] * (end_old - start - len(hunk))
    return tuple((start + 1 + i, text) for i, text in enumerate(hunk) if text != old[start + i])


def generate(file, source):
    """Every mutant mutmut makes of ``source`` (the text of ``file``), in mutmut's order."""
    lines = source.split("\n")
    repeats, seen = {}, {}
    for number, text in enumerate(lines, 1):  # which repeat of its text each line is
        seen[text.strip()] = seen.get(text.strip(), -1) + 1
        repeats[number] = seen[text.strip()]
    out = []
    for mid in list_mutations(Context(source=source, filename=file)):
        mutated, _ = mutate(Context(source=source, filename=file, mutation_id=RelativeMutationID(
            line=mid.line, index=mid.index, line_number=mid.line_number)))
        changes = _line_changes(lines, mutated.split("\n"))
        number = mid.line_number + 1
        out.append(Mutant(file, number, mid.index, mid.line, changes,
                          stable_id(file, mid.line, repeats[number], mid.index)))
    return out

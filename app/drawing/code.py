"""An experiment's source as the pages show it: highlighted, the lab's parts set apart, the fix as a diff. Pure.

- Highlighting is Pygments' Python lexer, written line by line as spans of Pygments' short CSS
  classes (static/pygments.css holds their colours: the CSP allows no inline style).
- The lab's parts are not the tutorial's code: the metadata block (ID, TITLE, NOTICE, PARAMS, ...)
  and `findings()` are folded; lines that only call the recorder (`rec.…`, `with rec.activity(…):`,
  `traced(…)`) are dimmed, so the tutorial's code reads as it was written.
- An experiment with a `variant` param (`tutorial`, `fixed`) runs different code per variant.
  Each variant's code is the module with every `if`/`… if … else …` on the variant resolved
  (`params["variant"] == "fixed"`, or a name assigned from such a test); the diff between the two
  is what the fix changes, and a function named `X_fixed` is diffed against `X`.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, _TokenType

from app.model.experiments import Experiment

META = frozenset(
    {
        "ID",
        "TITLE",
        "SUMMARY",
        "KIND",
        "NOTICE",
        "NOTICE_WITHOUT_GIL",
        "EXPECTED",
        "PARAMS",
        "MEASURES_TIME",
        "FIXED_VARIANT",
    }
)
FOLDED_FUNCTIONS = {
    "findings": "findings(): how the page words this run's outcome (the lab's, not the tutorial's)",
    "verdict": "verdict(): how the page judges this run's lesson (the lab's, not the tutorial's)",
    "bytecode": "bytecode(): which functions the Bytecode view disassembles (the lab's, not the tutorial's)",
}
# A line that only talks to the recorder: it draws the lanes, it is not the tutorial's code.
PLUMBING = re.compile(
    r"^\s*(?:with\s+)?(?:self\.)?_?rec(?:order)?\.\w+\(.*"  # rec.instant(...), with self._rec.activity(...):
    r"|^\s*\w+\s*=\s*traced\(.*"  # task = traced(fn, rec, "label", "cpu")
    r"|^\s*from experiments\.harness\.recorder import .*"
    r"|^\s*self\._?rec(?:order)?\s*=\s*rec\s*$"
)
DIFF_CONTEXT = 3
STYLE = "default"  # static/pygments.css is its get_style_defs(".hl")
# Classes the style colours (whitespace aside): only their tokens get a span, which halves the markup.
# (class2style is set in HtmlFormatter.__init__; types-Pygments does not declare it.)
STYLED = frozenset(
    cls
    for cls, (style, _, _) in HtmlFormatter(style=STYLE).class2style.items()  # type: ignore[attr-defined]
    if style
) - {"w"}


@dataclass(frozen=True)
class Line:
    number: int
    html: Markup
    plumbing: bool = False


@dataclass(frozen=True)
class Block:
    """Consecutive lines: shown, or folded under `summary`."""

    lines: tuple[Line, ...]
    summary: str = ""  # empty: not folded


@dataclass(frozen=True)
class DiffLine:
    sign: str  # " ", "-" (only in the first), "+" (only in the second)
    html: Markup
    old: int | None  # line numbers in each side
    new: int | None


@dataclass(frozen=True)
class Diff:
    title: str
    hunks: tuple[tuple[DiffLine, ...], ...]


@dataclass(frozen=True)
class CodeView:
    blocks: tuple[Block, ...]
    diffs: tuple[Diff, ...] = ()
    plumbing: int = 0  # dimmed lines


def css_class(ttype: _TokenType) -> str:
    """Pygments' short class of a token type (its nearest styled ancestor's), "" if the style leaves it plain."""
    while ttype not in STANDARD_TYPES or STANDARD_TYPES[ttype] not in STYLED:
        if ttype.parent is None:
            return ""
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


def highlight(source: str) -> list[Markup]:
    """Each line of `source` as HTML, its tokens in spans of Pygments' short classes (`k`, `nf`, `s2`, ...)."""
    lines: list[list[str]] = [[]]
    for ttype, value in PythonLexer(stripnl=False, ensurenl=True).get_tokens(source):
        cls = css_class(ttype)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if piece:
                lines[-1].append(f'<span class="{cls}">{escape(piece)}</span>' if cls else str(escape(piece)))
    if not lines[-1]:
        lines.pop()
    return [Markup("".join(parts)) for parts in lines]


def _folds(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, summary) of each part to fold, 1-based, in order."""
    folds = []
    meta = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in META for t in node.targets)
    ]
    if meta:
        names = [t.id for node in meta for t in node.targets if isinstance(t, ast.Name)]
        folds.append(
            (
                meta[0].lineno,
                meta[-1].end_lineno or meta[-1].lineno,
                f"The experiment's metadata: {', '.join(names)} (what the lab shows about it, not the tutorial's code)",
            )
        )
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in FOLDED_FUNCTIONS:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            folds.append((first, node.end_lineno or node.lineno, FOLDED_FUNCTIONS[node.name]))
    return sorted(folds)


# -- one variant's code ------------------------------------------------------------------------


def _is_variant(node: ast.expr) -> bool:
    """`params["variant"]`, `self.params["variant"]`, ...: a subscript by the constant "variant"."""
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "variant"


def _truth(test: ast.expr, variant: str, names: dict[str, ast.expr]) -> bool | None:
    """What `test` is when the variant is `variant`, or None if it does not depend on it alone."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _truth(test.operand, variant, names)
        return None if inner is None else not inner
    if isinstance(test, ast.Name) and test.id in names:
        return _truth(names[test.id], variant, names)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq)):
        left, right = test.left, test.comparators[0]
        if _is_variant(right):
            left, right = right, left
        if _is_variant(left) and isinstance(right, ast.Constant) and isinstance(right.value, str):
            return (variant == right.value) == isinstance(test.ops[0], ast.Eq)
    return None


def _end(node: ast.stmt | ast.expr) -> tuple[int, int]:
    """The node's end (line, column): `ast.parse` sets both on every node; only nodes built by hand lack them."""
    assert node.end_lineno is not None and node.end_col_offset is not None, "a node from ast.parse has its end"
    return node.end_lineno, node.end_col_offset


def _indent(line: str) -> str:
    """The whitespace the line starts with."""
    match = re.match(r"\s*", line)
    assert match is not None  # \s* matches every string, if only with ""
    return match.group()


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """The character offset of an ast position (1-based line, UTF-8 byte column) in the joined lines."""
    return sum(map(len, lines[: lineno - 1])) + len(lines[lineno - 1].encode()[:col].decode())


def _resolve_one(source: str, variant: str) -> str | None:
    """`source` with its first `if` (statement or expression) on the variant resolved; None if none is left."""
    tree = ast.parse(source)
    names = {
        node.targets[0].id: node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and _truth(node.value, variant, {}) is not None
    }
    lab_parts = [
        (node.lineno, _end(node)[0])
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in FOLDED_FUNCTIONS
    ]
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.If, ast.IfExp))
        and _truth(node.test, variant, names) is not None
        and not any(first <= node.lineno <= last for first, last in lab_parts)
    ]
    if not found:
        return None
    node = min(found, key=lambda n: (n.lineno, n.col_offset))  # the outermost: nested ones are resolved next
    taken = _truth(node.test, variant, names)
    lines = source.splitlines(keepends=True)
    if isinstance(node, ast.IfExp):
        start, end = _offset(lines, node.lineno, node.col_offset), _offset(lines, *_end(node))
        chosen = ast.get_source_segment(source, node.body if taken else node.orelse) or ""
        return source[:start] + chosen + source[end:]
    branch = node.body if taken else node.orelse
    indent = _indent(lines[node.lineno - 1])
    kept: list[str] = []
    if branch:
        first, last = branch[0].lineno, _end(branch[-1])[0]
        if not taken and lines[first - 1].lstrip().startswith("elif "):  # an elif: it becomes the if
            kept = [lines[first - 1].replace("elif ", "if ", 1)] + lines[first:last]
        else:
            # From the line after the `if …:` (or `else:`), so a comment heading the branch stays with it.
            after = (
                _end(node.test)[0]
                if taken
                else next(
                    (n for n in range(_end(node.body[-1])[0], first) if lines[n - 1].strip().startswith("else")),
                    first - 1,
                )
            )
            inner = _indent(lines[first - 1])
            kept = [indent + line[len(inner) :] if line.startswith(inner) else line for line in lines[after:last]]
    return "".join(lines[: node.lineno - 1] + kept + lines[_end(node)[0] :])


def variant_source(source: str, variant: str) -> str:
    """The code that runs under `variant`: every test of the variant resolved (its other branches gone)."""
    for _ in range(50):
        try:
            resolved = _resolve_one(source, variant)
        except SyntaxError:  # an edit left a block empty: stop at the last source that parsed
            return source
        if resolved is None:
            return source
        try:
            ast.parse(resolved)
        except SyntaxError:
            return source
        source = resolved
    return source


def diff(old: str, new: str, title: str, first_old: int = 1, first_new: int = 1) -> Diff:
    """A unified diff of two sources, each side highlighted, in hunks with DIFF_CONTEXT lines around changes."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    old_html, new_html = highlight(old), highlight(new)
    hunks = []
    for group in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_grouped_opcodes(DIFF_CONTEXT):
        hunk: list[DiffLine] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                hunk += [
                    DiffLine(" ", new_html[j], i + first_old, j + first_new)
                    for i, j in zip(range(i1, i2), range(j1, j2))
                ]
                continue
            hunk += [DiffLine("-", old_html[i], i + first_old, None) for i in range(i1, i2)]
            hunk += [DiffLine("+", new_html[j], None, j + first_new) for j in range(j1, j2)]
        hunks.append(tuple(hunk))
    return Diff(title, tuple(hunks))


def _definitions(source: str) -> dict[str, tuple[int, str]]:
    """Top-level functions and classes: name -> (first line, source)."""
    lines = source.splitlines(keepends=True)
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out[node.name] = (first, "".join(lines[first - 1 : node.end_lineno]))
    return out


def variant_diffs(source: str, variants: tuple[str, ...]) -> tuple[Diff, ...]:
    """What the fixed variant changes: the code each runs, diffed against the variant it fixes (`tutorial`, or
    the one other variant, e.g. asyncio-blocked-loop's `blocked`), and each `X_fixed` against `X`."""
    others = [variant for variant in variants if variant != "fixed"]
    base = "tutorial" if "tutorial" in others else (others[0] if len(others) == 1 else None)
    if base is None or "fixed" not in variants:
        return ()
    out = []
    unfixed, fixed = variant_source(source, base), variant_source(source, "fixed")
    if unfixed != fixed:
        out.append(
            diff(
                unfixed,
                fixed,
                f"What variant=fixed runs instead of variant={base} (the branches on the variant resolved)",
            )
        )
    definitions = _definitions(source)
    for name, (first, text) in definitions.items():
        if name.endswith("_fixed") and name[: -len("_fixed")] in definitions:
            old_first, old_text = definitions[name[: -len("_fixed")]]
            out.append(
                diff(
                    old_text, text, f"{name[: -len('_fixed')]}() as the tutorial wrote it → {name}()", old_first, first
                )
            )
    return tuple(out)


@lru_cache(maxsize=64)
def code_view(source: str, variants: tuple[str, ...] = ()) -> CodeView:
    """`source` as blocks of highlighted lines (the lab's parts folded, its recorder calls marked), and
    the diffs of its fixed variant if `variants` has one."""
    html = highlight(source)
    plain = source.splitlines()
    lines = [
        Line(n, h, bool(PLUMBING.match(plain[n - 1])) if n <= len(plain) else False) for n, h in enumerate(html, 1)
    ]
    blocks: list[Block] = []
    at = 1
    for first, last, summary in _folds(ast.parse(source)):
        if first < at:
            continue
        if first > at:
            blocks.append(Block(tuple(lines[at - 1 : first - 1])))
        blocks.append(Block(tuple(lines[first - 1 : last]), summary))
        at = last + 1
    if at <= len(lines):
        blocks.append(Block(tuple(lines[at - 1 :])))
    return CodeView(tuple(blocks), variant_diffs(source, variants), sum(line.plumbing for line in lines))


def view_of(experiment: Experiment) -> CodeView:
    """The CodeView of an app.model.experiments.Experiment (its variants from its `variant` param, if any)."""
    variants = next((tuple(p.choices) for p in experiment.params if p.name == "variant" and p.choices), ())
    return code_view(experiment.source, variants)

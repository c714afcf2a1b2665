"""Write docs/sentences.md: every sentence template a run page can print about a run, and what selects it.

Read from the code itself (so the table cannot drift from it): each experiment's `findings()` and
`verdict()`, the module functions they call, and the shared wording (experiments/harness/speedup.py,
experiments/harness/wording.py, the CPU budget's app/model/cpu.py). For each string that can become a sentence,
the `if` tests (and `… if … else …`) on the way to it: the measurements that select it. `{…}` in a
template is a figure filled in from the run.

    python scripts/sentences.py          # rewrite docs/sentences.md
    python scripts/sentences.py --check  # exit 1 if it is out of date (tests/test_docs.py)
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from experiments import MODULES  # noqa: E402

OUT = ROOT / "docs" / "sentences.md"
ENTRY = ("findings", "verdict")
SHARED = (  # module, the functions whose sentences every experiment using them prints
    ("experiments.harness.speedup", ("findings", "one_at_a_time", "shortfall")),
    ("experiments.harness.wording", ("on_cpus_together",)),
    ("app.model.cpu", ("sentences",)),
)
SHORTEST = 20  # shorter strings are keys and words, not sentences


def render(node: ast.expr) -> str | None:
    """The template a string expression builds, its figures as {expression}; None if it builds no string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(  # an f-string's constant parts are its literal text, str
            str(part.value) if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
            for part in node.values
            if isinstance(part, (ast.Constant, ast.FormattedValue))
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = render(node.left), render(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{" + ast.unparse(node.left) + "}") + (
            right if right is not None else "{" + ast.unparse(node.right) + "}"
        )
    return None


class Collector(ast.NodeVisitor):
    """Each sentence-sized string in a function, with the conditions on the way to it."""

    def __init__(self) -> None:
        self.found: list[tuple[str, tuple[str, ...]]] = []
        self.conditions: list[str] = []

    def block(self, body: list[ast.stmt]) -> None:
        """The statements of a block; after an `if` whose branch returns, the rest is under its negation."""
        pushed = 0
        for stmt in body:
            self.visit(stmt)
            if isinstance(stmt, ast.If) and stmt.body and isinstance(stmt.body[-1], (ast.Return, ast.Raise)):
                self.conditions.append(negation(stmt.test))
                pushed += 1
        del self.conditions[len(self.conditions) - pushed :]

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._under(ast.unparse(node.test), node.body)
        self._under(negation(node.test), node.orelse)

    def _under(self, condition: str, body: list[ast.stmt]) -> None:
        self.conditions.append(condition)
        self.block(body)
        self.conditions.pop()

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.conditions.append(ast.unparse(node.test))
        self.visit(node.body)
        self.conditions[-1] = negation(node.test)
        self.visit(node.orelse)
        self.conditions.pop()

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):  # a docstring
            return
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr) and not isinstance(node, ast.IfExp):
            text = render(node)
            if text is not None and not branches(node):
                if len(text) >= SHORTEST and not text.isidentifier():  # a result's key is no sentence
                    self.found.append((text, tuple(self.conditions)))
                return
        super().generic_visit(node)


def branches(node: ast.AST) -> bool:
    """Whether a string expression chooses between strings (`a + (b if c else d)`): then each is its own
    template, under its condition. A choice inside a figure (`{'s' if n != 1 else ''}`) is part of one."""
    if isinstance(node, ast.IfExp):
        return True
    if isinstance(node, ast.FormattedValue):
        return False
    return any(branches(child) for child in ast.iter_child_nodes(node))


def negation(test: ast.expr) -> str:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ast.unparse(test.operand)
    return f"not ({ast.unparse(test)})"


def functions(module: object, names: tuple[str, ...]) -> list[ast.FunctionDef]:
    """`names` of the module and, transitively, the module's functions they call by name."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    todo, seen = [n for n in names if n in defs], []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        todo += [
            c.func.id
            for c in ast.walk(defs[name])
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in defs
        ]
    return [defs[n] for n in seen]


def section(title: str, module_name: str, names: tuple[str, ...]) -> list[str]:
    module = importlib.import_module(module_name)
    lines = [
        f"## {title}",
        "",
        f"`{module_name.replace('.', '/')}.py`",
        "",
        "| function | sentence template | selected when |",
        "|---|---|---|",
    ]
    names_used = []
    for fn in functions(module, names):
        collector = Collector()
        collector.block(fn.body)
        for text, conditions in collector.found:
            when = " and ".join(code(c) for c in conditions) or "always"
            lines.append(f"| `{fn.name}` | {cell(text)} | {cell(when)} |")
        local = assignments(fn)
        if local:
            names_used.append(
                f"- in `{fn.name}`: " + "; ".join(f"`{name}` = {code(cell(value))}" for name, value in local)
            )
    return lines + ([""] + ["Where the names come from:", ""] + names_used if names_used else []) + [""]


def assignments(fn: ast.FunctionDef) -> list[tuple[str, str]]:
    """The function's own names and what they are first set to (`a, b = x, y` as a = x, b = y)."""
    found: dict[str, str] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
                pairs = list(zip(target.elts, value.elts))
            else:
                pairs = [(target, value)]
            for name, expr in pairs:
                if isinstance(name, ast.Name) and name.id not in found and name.id != "said":
                    found[name.id] = ast.unparse(expr)
    return list(found.items())


def code(text: str) -> str:
    """`text` as inline code, in a double-backtick span where it holds a backtick itself."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def document() -> str:
    out = [
        "# What a run page says, and what selects each sentence",
        "",
        "Generated by `python scripts/sentences.py` from the code (tests/test_docs.py checks it is current):",
        "every sentence template each experiment's `findings()` and `verdict()` can print about a run, with the",
        "tests on the way to it. `{…}` is a figure of the run: `result[...]` is what the run's experiment returned,",
        "`params[...]` what it ran with, `cpu[...]` its CPU budget as measured from outside (app/model/cpu.py:",
        "`phases[name]['others_busy_cores']` what other programs used during a phase, `resolution_cores` how far",
        "off that may be from /proc/stat's ticks, `first_task_ms` when a pool's first task began, `parallel` how",
        "long its worker threads were on CPUs at the same time, by their on-CPU strips, app/model/overlap.py),",
        "`python` the interpreter's version, and `result['gil_enabled']` whether it ran with a GIL.",
        "A template is cut where a sentence is built from pieces (`said += …`); read the function for the whole.",
        "",
    ]
    for name in MODULES:
        module = importlib.import_module(name)
        out += section(f"{module.ID}: {module.TITLE}", name, ENTRY)
    out += ["# Shared wording", ""]
    for name, names in SHARED:
        out += section(name, name, names)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    text = document()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.exists() and OUT.read_text() == text else 1)
    OUT.write_text(text)

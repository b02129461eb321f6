"""The house's layers, from the bottom up: a module imports only from its own layer or the ones below it (the README's
"How it is built" draws the same map). Function-level imports count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "cotlens"

# Each layer by the module names (or package prefixes) that make it up, lowest first.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundations",
        (
            "__init__",
            "__version__",
            "errors",
            "escape",
            "limits",
            "location",
            "result",
            "suggest",
            "progress",
        ),
    ),
    ("runtime", ("runtime",)),
    ("measurements", ("measure", "lexicon")),
    ("record and store", ("record", "ids", "store", "object_store")),
    ("input", ("compressed", "sources", "tabular", "formats")),
    ("ingest and measuring", ("parse", "intrinsic", "ingest", "sniff")),
    ("analysis tools", ("scan", "groups", "stats", "_resample", "conditions", "gates")),
    ("analyses", ("analyses",)),
    ("render", ("render",)),
    # The entry point starts the worker server before it imports the CLI: it is the top of the house although it
    # lives with the runtime it drives.
    ("command line", ("cli", "__main__", "runtime.launch")),
]


def layer_of(module: str) -> int:
    """The layer of a module named relative to the package ("analyses.rates"); the longest prefix wins."""
    best, best_length = -1, -1
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best_length:
                best, best_length = index, len(name)
    if best < 0:
        raise AssertionError(f"cotlens.{module} is in no layer: add it to LAYERS (and to the README's map)")
    return best


def package_modules() -> dict[str, list[str]]:
    """Each module of the package (relative name) with the package modules it imports, anywhere in it."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)
        imported = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cotlens"):
                if node.module == "cotlens":
                    imported += [alias.name for alias in node.names]
                else:
                    imported.append(node.module.removeprefix("cotlens."))
            elif isinstance(node, ast.Import):
                imported += [
                    a.name.removeprefix("cotlens.") for a in node.names if a.name.startswith("cotlens.")
                ]
        modules[name] = imported
    return modules


def test_every_module_imports_only_downward() -> None:
    upward = [
        f"cotlens.{module} ({LAYERS[layer_of(module)][0]}) imports cotlens.{target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in package_modules().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("analyses.rates", "analyses"),
        ("runtime.launch", "command line"),
        ("runtime.workers", "runtime"),
        ("__version__", "foundations"),
    ],
)
def test_layer_of_names_the_longest_prefix(module: str, layer: str) -> None:
    assert LAYERS[layer_of(module)][0] == layer


def test_imports_inside_functions_are_seen() -> None:
    # The report command imports its work inside the command's function (a quick --help): the check must see it.
    assert "render.report_page" in package_modules()["cli.documents"]

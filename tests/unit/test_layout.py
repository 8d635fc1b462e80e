"""The four packages' layers and the direction of their imports (DEVELOPERS.md, "A service's
layout"): entrypoints -> service layer -> adapters -> domain, never back up; the frameworks at
the edge; a package's own `__init__` (run by every import of anything in it) importing none of
them; the bootstrap below the entry points; the shared kernel below the services; the dev tools
apart from the product."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("order_service", "inventory_service", "payment_service", "orchestrator")
LAYERS = ("domain", "service_layer", "adapters", "entrypoints")
FRAMEWORKS = ("flask", "sqlalchemy", "celery", "kombu", "kafka", "granian", "flower", "tornado",
              "pydantic", "requests", "alembic")
# What each layer may not import: a layer above it, and (domain, service layer) the frameworks
# of the edge. The service layer may use SQLAlchemy's errors and a unit of work's transaction.
FORBIDDEN = {
    "domain": ("service_layer", "adapters", "entrypoints", "bootstrap", *FRAMEWORKS),
    "service_layer": ("entrypoints", "bootstrap", "flask", "celery", "kombu", "kafka",
                      "flower", "tornado", "granian"),
    "adapters": ("service_layer", "entrypoints", "bootstrap"),
}
# The modules at a package's root, and what each may not import: its `__init__` is run by
# every import of the package (of its domain, say), so it loads no layer and no framework; the
# bootstrap is handed what only the entry points have; the settings' accessors sit on the domain.
# `celery.py` (where `celery -A orchestrator` finds the app) is an entry point: it may.
AT_THE_ROOT = {
    "__init__.py": (*LAYERS, "bootstrap", "config", "celery", *FRAMEWORKS),
    "bootstrap.py": ("entrypoints", "celery"),
    "config.py": ("service_layer", "adapters", "entrypoints", "bootstrap", "celery"),
}
DEV_TOOLS = ("devtools", "bench", "tests")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def modules(package: str, layer: str) -> list[Path]:
    return sorted((ROOT / package / layer).rglob("*.py"))


def offends(name: str, package: str, forbidden: tuple[str, ...]) -> bool:
    head = name.split(".")
    for rule in forbidden:
        if rule in FRAMEWORKS and head[0] == rule:
            return True
        if head[0] == package and len(head) > 1 and head[1] == rule:
            return True
    return False


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_has_the_four_layers_and_nothing_else_of_code_at_its_root(
        package: str) -> None:
    for layer in LAYERS:
        assert (ROOT / package / layer / "__init__.py").is_file(), f"{package}/{layer}"
    loose = {path.name for path in (ROOT / package).glob("*.py")}
    assert loose <= {*AT_THE_ROOT, "celery.py"}, loose


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("layer", FORBIDDEN)
def test_no_layer_imports_a_layer_above_it_or_a_framework_of_the_edge(
        package: str, layer: str) -> None:
    wrong = {f"{path.relative_to(ROOT)}: {name}" for path in modules(package, layer)
             for name in imports(path) if offends(name, package, FORBIDDEN[layer])}
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("module", AT_THE_ROOT)
def test_a_packages_init_imports_nothing_and_its_bootstrap_no_entry_point(
        package: str, module: str) -> None:
    path = ROOT / package / module
    if not path.is_file():
        return
    wrong = {name for name in imports(path) if offends(name, package, AT_THE_ROOT[module])}
    assert not wrong, f"{path.relative_to(ROOT)}: {sorted(wrong)}"


def test_importing_the_orchestrators_domain_loads_no_celery() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, orchestrator.domain.flow, orchestrator.domain.saga; "
         "print(sorted(name for name in sys.modules if name.split('.')[0] in "
         f"{FRAMEWORKS!r}))"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_product_never_imports_the_dev_tools() -> None:
    wrong = {f"{path.relative_to(ROOT)}: {name}"
             for package in (*PACKAGES, "glastonbury")
             for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
             for name in imports(path) if name.split(".")[0] in DEV_TOOLS}
    assert not wrong, sorted(wrong)


def test_the_shared_kernel_imports_no_service() -> None:
    """glastonbury/ offers mechanisms that each service hands what it needs (a migrator given
    each service's schema): a kernel importing a service would load it with every import."""
    wrong = {f"{path.relative_to(ROOT)}: {name}"
             for path in (ROOT / "glastonbury").rglob("*.py")
             for name in imports(path) if name.split(".")[0] in PACKAGES}
    assert not wrong, sorted(wrong)

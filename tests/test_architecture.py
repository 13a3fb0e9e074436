"""The import graph runs one way: the `import` statements of every module (read with ast, so imports inside
functions count too) against the layers below. A failure names the module, the import and the rule it breaks."""
from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("webapp", "jobs", "sandbox", "local", "bench", "tests", "wsgi")

# Which of our other top-level packages each one may import. tests and wsgi.py sit on top and may import all: wsgi.py
# is the one seam between the app and the development tooling (it registers `flask demo-data` and builds the app on
# the local default for a `flask …` command without DATABASE_URL).
MAY_IMPORT = {
    "sandbox": set(),  # the emulators stand in for the providers: they know nothing of the app
    "webapp": set(),  # the app knows nothing of its jobs, its development tooling, the emulators or the tests
    "jobs": {"webapp"},
    # The launcher, embedded servers and demo data: `make run` without provider credentials starts the emulators.
    "local": {"webapp", "sandbox"},
    "bench": {"webapp", "jobs", "sandbox", "local"},  # the sync benchmarks run the real jobs
}

# Feature packages: a blueprint with its views, and the domain modules of that feature.
FEATURES = ("webapp.admin", "webapp.auth", "webapp.calendar", "webapp.connections", "webapp.feeds", "webapp.live",
            "webapp.search", "webapp.settings", "webapp.webhooks")
# Modules that register routes or hooks on a blueprint.
VIEWS = tuple(f"{feature}.views" for feature in FEATURES) + ("webapp.ops",)
# The app's core, below every feature: none of it may import a feature package.
CORE = ("webapp.providers", "webapp.sync", "webapp.credentials", "webapp.recurrence", "webapp.rrule", "webapp.budget",
        "webapp.maintenance", "webapp.models", "webapp.audit", "webapp.crypto", "webapp.locks", "webapp.text",
        "webapp.zones", "webapp.extensions", "webapp.config", "webapp.changes", "webapp.transactions")
# What providers may use of the app besides themselves: our enums (models) and which zone names exist.
PROVIDER_MAY_IMPORT = ("webapp.providers", "webapp.models", "webapp.zones")
# What only views and forms use: the core works without a request to answer.
WEB = ("webapp.forms", "webapp.htmx")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "webapp.sync.pull"
    target: str  # what it imports, e.g. "webapp.credentials.credentials_for" or "webapp.providers"
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(path: Path) -> list[Import]:
    module = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                package = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module
            found.append(Import(module, base, node.lineno))
            found += [Import(module, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return [entry for entry in found if entry.target.split(".")[0] in OURS]


@functools.cache  # parsed once per test process: several tests read the same graph
def all_imports() -> tuple[Import, ...]:
    paths = [ROOT / "wsgi.py"] + [path for package in OURS[:-1] for path in sorted((ROOT / package).rglob("*.py"))]
    return tuple(entry for path in paths for entry in imports_in(path))


def within(name: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == package or name.startswith(package + ".") for package in packages)


def top(name: str) -> str:
    return name.split(".")[0]


def package_rule_breaks(imports: Iterable[Import]) -> list[str]:
    breaks = []
    for entry in imports:
        source, target = top(entry.module), top(entry.target)
        if source == target or source not in MAY_IMPORT:
            continue
        if target not in MAY_IMPORT[source]:
            breaks.append(f"{entry}: {source} may import only {sorted(MAY_IMPORT[source]) or 'itself'}")
    return breaks


def layer_rule_breaks(imports: Iterable[Import]) -> list[str]:
    breaks = []
    for entry in imports:
        module, target = entry.module, entry.target
        if not within(module, "webapp"):
            continue
        if target == "webapp.create_app":
            breaks.append(f"{entry}: only jobs, scripts and tests build the app")
        if within(module, CORE) and within(target, FEATURES):
            breaks.append(f"{entry}: the core ({module}) must not import a feature package")
        if within(module, CORE) and within(target, WEB):
            breaks.append(f"{entry}: the core ({module}) must not import form or page helpers")
        if within(module, "webapp.providers") and within(target, "webapp") and not within(target, PROVIDER_MAY_IMPORT):
            breaks.append(f"{entry}: providers know the provider APIs, our enums and zone names, nothing else")
        if module != "webapp" and within(target, VIEWS):
            breaks.append(f"{entry}: only the app factory imports views")
        feature = next((f for f in FEATURES if within(target, f) and target == f"{f}.bp"), None)
        if feature and module not in (f"{feature}.views", "webapp"):
            breaks.append(f"{entry}: only {feature}.views registers on its blueprint")
    return breaks


def test_every_package_is_found_and_read():
    imports = all_imports()
    modules = {entry.module for entry in imports}
    assert {"webapp.sync.pull", "webapp.connections.views", "jobs.sync", "sandbox.run", "local.launcher",
            "wsgi"} <= modules
    assert any(entry.target == "webapp.credentials.credentials_for" for entry in imports)


def test_no_package_imports_a_package_above_it():
    assert package_rule_breaks(all_imports()) == []


def test_inside_webapp_imports_run_from_views_to_domain_to_core():
    assert layer_rule_breaks(all_imports()) == []


@pytest.mark.parametrize(("module", "target", "rule"), [
    ("sandbox.microsoft_emulator", "webapp.providers.windows_zones", "sandbox may import only itself"),
    ("webapp.calendar.views", "jobs.sync", "webapp may import only itself"),
    ("webapp.ops", "sandbox.run", "webapp may import only itself"),
    ("webapp", "local.demo", "webapp may import only itself"),
    ("webapp.config", "local.launcher.command_config", "webapp may import only itself"),
    ("local.launcher", "jobs.worker", "local may import only ['sandbox', 'webapp']"),
    ("jobs.sync", "tests.factories", "jobs may import only ['webapp']"),
    ("webapp.sync.pull", "webapp.connections.service", "the core (webapp.sync.pull) must not import a feature"),
    ("webapp.providers.google", "webapp.credentials", "providers know the provider APIs"),
    ("webapp.audit", "webapp.forms.without_control_characters", "must not import form or page helpers"),
    ("webapp.connections.service", "webapp.connections.views", "only the app factory imports views"),
    ("webapp.calendar.pages", "webapp.calendar.bp", "only webapp.calendar.views registers on its blueprint"),
    ("webapp.connections.views", "webapp.create_app", "only jobs, scripts and tests build the app"),
])
def test_each_rule_catches_an_arrow_running_back_up(module, target, rule):
    arrow = [Import(module, target, 1)]
    assert any(rule in text for text in package_rule_breaks(arrow) + layer_rule_breaks(arrow))


def test_relative_imports_are_resolved_against_their_package(tmp_path, monkeypatch):
    package = tmp_path / "webapp" / "providers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .google import GoogleProvider\n")
    (package / "google.py").write_text("from ..sync import pull\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert {entry.target for entry in imports_in(package / "google.py")} == {"webapp.sync", "webapp.sync.pull"}
    assert "webapp.providers.google" in {entry.target for entry in imports_in(package / "__init__.py")}


def test_no_test_module_imports_from_a_conftest():
    """Factories live in tests/factories.py and other helpers in tests/helpers.py; a fixture more than one test package
    uses lives in the root conftest, which pytest offers everywhere, so nothing is imported from a conftest."""
    borrowed = [f"{path.relative_to(ROOT)}: from {node.module}"
                for path in sorted((ROOT / "tests").rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "conftest"]
    assert borrowed == []


def fixtures_in(path: Path) -> set[str]:
    return {node.name for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list)}


def test_no_conftest_defines_a_root_fixture_again():
    """One `user`, one `signed_in`: a package's conftest adds fixtures of its own and never shadows a shared one."""
    shared = fixtures_in(ROOT / "tests" / "conftest.py")
    again = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "tests").glob("*/conftest.py"))
             for name in sorted(fixtures_in(path) & shared)]
    assert again == []


def test_no_test_module_imports_another():
    """What two test modules share lives in tests/factories.py or tests/helpers.py, not in one of them."""
    borrowed = [f"{path.relative_to(ROOT)}: from {node.module}"
                for path in sorted((ROOT / "tests").rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module
                and node.module.split(".")[-1].startswith("test_")]
    assert borrowed == []

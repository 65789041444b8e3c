"""The package layout: old module paths, lazy public names, and what the models may import."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pathlib
import subprocess
import sys
import tomllib

import pytest

import mirage_bayes
from mirage_bayes import legacy
from mirage_bayes.settings import TREND_NAMES

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("old", sorted(legacy.MOVED))
def test_old_module_path_warns_and_reads_the_new_module(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=legacy.MOVED[old].replace(".", r"\.")):
        module = importlib.import_module(old)
    new = importlib.import_module(legacy.MOVED[old])
    public = getattr(new, "__all__", None) or [n for n in vars(new) if not n.startswith("_")]
    assert public
    for name in public:
        assert getattr(module, name) is getattr(new, name)


def test_old_paths_point_at_modules_that_exist():
    for new in legacy.MOVED.values():
        assert importlib.util.find_spec(new) is not None, new


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("mirage_bayes.forecast", "forecast"),
        ("mirage_bayes.meta", "analyse"),
        ("mirage_bayes.simulate", "GPT3_SIZES"),
        ("mirage_bayes.fitting", "fit"),
        ("mirage_bayes.plan", "plan_from_fit"),
    ],
)
def test_package_exports(package, name):
    module = importlib.import_module(package)
    assert name in dir(module)
    assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match="no attribute"):
        module.no_such_name  # noqa: B018


def test_top_level_public_names_resolve():
    for name in mirage_bayes.__all__:
        assert getattr(mirage_bayes, name) is not None
    assert mirage_bayes.fit is importlib.import_module("mirage_bayes.fitting").fit


def test_models_import_nothing_of_the_package_but_models():
    for path in (ROOT / "models").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("mirage_bayes"):
                    assert name.startswith("mirage_bayes.models"), f"{path.name}: {name}"


def test_importing_the_package_stays_light():
    code = (
        "import sys, mirage_bayes, mirage_bayes.meta, mirage_bayes.forecast;"
        "print(any(m in sys.modules for m in ('pymc', 'arviz', 'pytensor')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_package_is_installed():
    """A package left out of pyproject.toml's list would be missing from a non-editable install."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(("mirage_bayes", *init.parent.relative_to(ROOT / "mirage_bayes").parts))
        for init in (ROOT / "mirage_bayes").rglob("__init__.py")
    }
    assert found | {"mirage_bayes.models"} == listed


def test_only_the_models_and_settings_name_a_trend():
    """Outside ``models/`` a trend is named by its role (``settings.SMOOTH_TREND`` ...), so that
    which trend plays which role lives in one place. Docstrings may name them."""
    named = []
    for path in sorted((ROOT / "mirage_bayes").rglob("*.py")):
        inside = path.relative_to(ROOT / "mirage_bayes").parts
        if path.name == "settings.py" or inside[0] == "models":  # a copy of models/ installed
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }  # fmt: skip
        named += [
            f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in TREND_NAMES
            and id(node) not in docstrings
        ]  # fmt: skip
    assert not named, named

"""``from wakeful import ...``: every name in ``__all__`` is there, nothing a user needs is
missing, what type checkers see is what loads, and ``import wakeful`` stays cheap."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import wakeful
import wakeful.errors

FRONT_DOOR = Path(wakeful.__file__)
ROOT = Path(__file__).resolve().parents[1]
# What the handler author's first file imports (the project's charter lists these).
ESSENTIAL = {
    "Registry",
    "Context",
    "Wake",
    "collection",
    "tool",
    "ToolContext",
    "RetryPolicy",
    "define_thread",
    "ThreadConfig",
    "Client",
    "AsyncClient",
    "create_app",
    "WakefulError",
}


def test_every_name_in_all_is_importable_and_is_the_original() -> None:
    namespace: dict[str, object] = {}
    exec("from wakeful import *", namespace)
    assert set(wakeful.__all__) <= set(namespace)
    assert len(wakeful.__all__) == len(set(wakeful.__all__))
    for name in wakeful.__all__:
        if name == "__version__":
            continue
        value = getattr(wakeful, name)
        home = importlib.import_module(wakeful._LOCATIONS[name])
        assert value is getattr(home, name), name


def test_nothing_public_is_missing() -> None:
    assert set(wakeful.__all__) >= ESSENTIAL
    # Every object of Wakeful's own reachable as wakeful.X (subpackages aside) is exported.
    ours = {
        name
        for name in dir(wakeful)
        if not name.startswith("_")
        and not inspect.ismodule(value := getattr(wakeful, name))
        and getattr(value, "__module__", "").startswith("wakeful")
    }
    assert ours == set(wakeful.__all__) - {"__version__"}
    errors = {
        name
        for name, value in vars(wakeful.errors).items()
        if isinstance(value, type) and issubclass(value, wakeful.errors.WakefulError)
    }
    assert errors | {"ErrorCode"} <= set(wakeful.__all__)


def test_type_checkers_see_what_loads() -> None:
    """The ``TYPE_CHECKING`` imports name the same objects, from the same modules, as the
    lazy table: an editor's ``wakeful.Registry`` is the one a program gets."""
    tree = ast.parse(FRONT_DOOR.read_text())
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    seen: dict[str, str] = {}
    for node in guarded.body:
        assert isinstance(node, ast.ImportFrom)
        if node.level == 0:
            continue  # typing helpers for the module itself
        for alias in node.names:
            seen[alias.asname or alias.name] = f"wakeful.{node.module}"
    assert seen == wakeful._LOCATIONS


def test_unknown_names_are_attribute_errors() -> None:
    try:
        wakeful.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("wakeful.NoSuchThing resolved")


def loaded_after(code: str) -> set[str]:
    """The top-level packages (and Wakeful's own modules) loaded by running ``code``."""
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(found.stdout.split())


def test_import_wakeful_loads_nothing_heavy() -> None:
    modules = loaded_after("import wakeful")
    assert not {name for name in modules if name.startswith("wakeful.")}
    assert not {"pydantic", "httpx", "starlette", "fastapi"} & modules


def test_a_handler_file_loads_no_http_stack() -> None:
    modules = loaded_after(
        "from wakeful import Registry, Context, Wake, collection, tool, ToolContext,"
        " RetryPolicy, define_thread, ThreadConfig"
    )
    assert "wakeful.entities.definition" in modules
    assert not {"httpx", "starlette", "fastapi", "uvicorn", "wakeful.server"} & modules


def test_docs_and_examples_import_from_the_front_door() -> None:
    """What users copy imports ``from wakeful``, never from the layers underneath."""
    deep = re.compile(r"^\s*(from|import) wakeful\.\w+", re.M)
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", path.read_text(), re.S):
            found += [f"{path.name}: {line}" for line in deep.findall(block)]
    for path in sorted((ROOT / "examples").glob("*.py")):
        found += [f"{path.name}: {line}" for line in deep.findall(path.read_text())]
    assert found == []

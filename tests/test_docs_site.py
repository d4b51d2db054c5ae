"""The documentation site (mkdocs.yml, docs/): every public name is in the API reference,
the examples on the guide pages run and print what the pages say, and the strict build
passes (slow)."""

import doctest
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MODULES = ["levante.ein", "levante.core", "levante.nets", "levante.metrics", "levante.data",
           "levante.models", "levante.train"]
DIRECTIVE = re.compile(r"^:::\s+([\w.]+)", re.MULTILINE)
PYCON = re.compile(r"^```pycon\n(.*?)^```", re.MULTILINE | re.DOTALL)


def public_names(module_name):
    """The module's `__all__`; for a module without one (levante.metrics), the functions and
    classes it defines under public names."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items()
                 if not name.startswith("_")
                 and (inspect.isfunction(value) or inspect.isclass(value))
                 and value.__module__ == module.__name__]
    return sorted(names)


def documented():
    """{dotted name: page} of every mkdocstrings directive (`::: levante.ein.dot`)."""
    return {name: page.name for page in sorted((DOCS / "api").glob("*.md"))
            for name in DIRECTIVE.findall(page.read_text(encoding="utf-8"))}


def resolve(dotted):
    """The object a directive names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part)
        return value
    raise ImportError(dotted)


def test_every_public_name_is_in_the_api_reference():
    pages = documented()
    missing = [f"{module}.{name}" for module in MODULES for name in public_names(module)
               if f"{module}.{name}" not in pages]
    assert not missing, (
        "public names missing from the API reference (add a `::: NAME` line to the page of "
        f"their module in docs/api/): {', '.join(missing)}")


def test_every_api_directive_names_a_real_object():
    broken = []
    for name, page in documented().items():
        try:
            resolve(name)
        except (ImportError, AttributeError):
            broken.append(f"{name} ({page})")
    assert not broken, f"directives naming nothing: {', '.join(broken)}"


def test_the_public_name_check_sees_a_missing_name(tmp_path, monkeypatch):
    """The check above fails when a name is left out."""
    api = tmp_path / "api"
    api.mkdir()
    text = (DOCS / "api" / "data.md").read_text(encoding="utf-8")
    (api / "data.md").write_text(text.replace("::: levante.data.split\n", ""), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", tmp_path)
    assert "levante.data.split" not in documented()
    assert "levante.data.get_batch" in documented()


class _Checker(doctest.OutputChecker):
    """Exceptions are written as users read them (`NotationSizeError: ...`), without the
    private module path (`levante.ein._errors.`)."""

    def check_output(self, want, got, optionflags):
        got = re.sub(r"^levante(?:\.\w+)*\.(\w+Error)", r"\1", got, flags=re.MULTILINE)
        return super().check_output(want, got, optionflags)


PAGES = sorted(page for page in DOCS.glob("*.md") if PYCON.search(page.read_text("utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples_print_what_the_page_says(page):
    """The ```pycon blocks of a guide page, run in order in one namespace, as doctests."""
    text = page.read_text(encoding="utf-8")
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=doctest.ELLIPSIS)
    parser, namespace, report = doctest.DocTestParser(), {}, []
    for block in PYCON.finditer(text):
        line = text.count("\n", 0, block.start(1))
        test = parser.get_doctest(block.group(1), namespace, f"{page.name}:{line + 1}",
                                  str(page), line)
        runner.run(test, out=report.append, clear_globs=False)
        namespace = test.globs  # a DocTest runs in a copy: carry it to the next block
    assert runner.failures == 0, "".join(report)


@pytest.mark.slow
def test_strict_build(tmp_path):
    """`mkdocs build --strict` passes, and each public name has an entry on the built site."""
    absent = [name for name in ("mkdocs", "material", "mkdocstrings_handlers.python")
              if importlib.util.find_spec(name.split(".")[0]) is None]
    if absent:
        pytest.skip(f'the docs tools are not installed ({", ".join(absent)}): '
                    'pip install -e ".[docs]"')
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    result = subprocess.run(command, cwd=ROOT,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    html = "".join(page.read_text(encoding="utf-8") for page in (site / "api").rglob("*.html"))
    missing = [f"{module}.{name}" for module in MODULES for name in public_names(module)
               if f'id="{module}.{name}"' not in html]
    assert not missing, f"no entry on the built site for: {', '.join(missing)}"

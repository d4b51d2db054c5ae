"""The project's promises about itself: the README's commands and CI agree."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(text):
    """The shell commands in the README's fenced bash blocks."""
    blocks = text.split("```bash")[1:]
    return [block.split("```")[0].strip() for block in blocks]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = next(c for c in _commands(readme) if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_opens_with_the_main_job_then_the_tests():
    commands = _commands((ROOT / "README.md").read_text())
    assert "pip install" in commands[0] and "levante" in commands[0].split("&&")[-1]
    assert "pytest" in commands[1]


def test_readme_python_examples_run():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0] for b in readme.split("```python")[1:]]
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})

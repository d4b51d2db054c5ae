"""A Griffe extension for the API reference: docstring examples become code blocks.

levante's docstrings are plain text with `>>>` examples (run as doctests), not Google or
NumPy sections. Markdown would read `>>> x` as three nested quotes, so before rendering,
every run of `>>>` / `...` lines and the output under them (up to a blank line) is wrapped
in a ```pycon fence; `# doctest:` directives and `<BLANKLINE>` markers are dropped. The
docstrings themselves are left as they are.
"""

from __future__ import annotations

import re

import griffe

_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")


def fence_doctests(text):
    """`text` with each doctest block fenced as ```pycon (indentation kept)."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if out and out[-1].strip():
            out.append("")  # a fence needs a blank line before it inside a paragraph
        out.append(indent + "```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(_DIRECTIVE.sub("", lines[i]).replace("<BLANKLINE>", ""))
            i += 1
        out.append(indent + "```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence the doctest blocks of every docstring once the package is loaded."""

    def on_object(self, *, obj, loader, **kwargs):
        docstring = obj.docstring
        # an alias (a name re-exported by a package) shares its target's docstring: fence once
        if docstring is not None and ">>>" in docstring.value and "```pycon" not in docstring.value:
            docstring.value = fence_doctests(docstring.value)

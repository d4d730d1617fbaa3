"""The documents and statistics that parameter sources cite, by key.

A parameter's source (and a docstring or a page of ``docs/``) cites a document as ``[key]``
followed by where in it: ``[plan-13th-fyp] box 7``, ``[cheng-2017] ch. 5 §3(2)``. The registry
``povsim/sources.toml`` holds each key's full reference — title in the original language and in
English, issuing body, document number, date, where it is published, how its locations read — and
``docs/sources.md`` is generated from it::

    python -m povsim.sources > docs/sources.md
"""

from __future__ import annotations

import re
import sys
import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

SOURCES_FILE = "sources.toml"
"""The registry, inside the ``povsim`` package."""

CITATION = re.compile(r"\[([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\]")
"""A cited key: ``[plan-13th-fyp]`` (in markdown also ``[plan-13th-fyp](sources.md#plan-13th-fyp)``).
A key is lower-case words and numbers joined by hyphens, at least two of them."""


class Source(BaseModel):
    """One cited document or statistic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    kind: Literal["core", "document", "statistics"]
    title: str
    title_en: str | None = None
    issuer: str
    number: str | None = None
    date: str
    published: str
    url: str | None = None
    locations: str | None = None
    note: str | None = None
    uncertain: str | None = None
    earlier: str | None = None

    @field_validator("title", "issuer", "date", "published")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def reference(self) -> str:
        """The full reference on one line: title (English), issuer, number, date."""
        title = self.title if not self.title_en or self.title_en == self.title else f"{self.title} ({self.title_en})"
        parts = [title, self.issuer, self.number, self.date]
        text = "; ".join(p for p in parts if p)
        if self.uncertain:
            text += "; identification uncertain"
        return text


@cache
def load_sources() -> dict[str, Source]:
    """The registry of ``povsim/sources.toml``, by key, in file order.

    Raises:
        ValueError: an entry is malformed or its key is not of the form :data:`CITATION` reads.
    """
    path = resources.files("povsim") / SOURCES_FILE
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, Source] = {}
    for key, item in data.items():
        if not CITATION.fullmatch(f"[{key}]"):
            raise ValueError(f"{SOURCES_FILE}: {key!r} is not a valid source key (lower-case words joined by hyphens)")
        if not isinstance(item, dict):
            raise ValueError(f"{SOURCES_FILE}: {key} is not a table")
        try:
            out[key] = Source(key=key, **item)
        except ValueError as exc:
            raise ValueError(f"{SOURCES_FILE}: {key} is malformed: {exc}") from exc
    return out


def cited_keys(text: str) -> list[str]:
    """The keys ``text`` cites, each once, in the order they first appear."""
    return list(dict.fromkeys(CITATION.findall(text)))


def references(text: str) -> list[str]:
    """One line per key ``text`` cites: ``[key] full reference`` (or that the key is unknown)."""
    sources = load_sources()
    return [
        f"[{key}] {sources[key].reference()}" if key in sources else f"[{key}] (not in the source registry)"
        for key in cited_keys(text)
    ]


_GROUPS = (
    ("core", "Policy documents and texts the model is built from"),
    ("document", "Other documents"),
    ("statistics", "Outside statistics and studies"),
)

_FIELDS = (
    ("title", "Title"),
    ("title_en", "In English"),
    ("issuer", "Issued by"),
    ("number", "Document number"),
    ("date", "Date"),
    ("published", "Published"),
    ("url", "URL"),
    ("locations", "Locations"),
    ("note", "Note"),
    ("uncertain", "Identification uncertain"),
    ("earlier", "Earlier cited as"),
)

_INTRO = """\
# Sources

<!-- Generated from src/povsim/sources.toml by `python -m povsim.sources > docs/sources.md`;
edit the TOML file, not this page (tests/test_sources.py checks they agree). -->

Every parameter in `src/povsim/params/*.toml` has a source; `povsim params PATTERN` prints it
with the full reference of every document it cites. A source, a docstring or a page of these docs
cites a document as `[key]` followed by where in it, e.g. `[plan-13th-fyp] box 7` (the plan's
专栏7) or `[cheng-2017] ch. 5 §3(2)` (the book's chapter 5, section 三, subsection （二）). Each
key is listed below with the document's title in the original language and in English, who issued
it, its document number where it has one, its date, where it is published and how the locations
cited in it read. What could not be identified is said under *Identification uncertain*; nothing
is guessed.

Earlier versions of povsim cited these texts by the number of the project's working copy of each
(000 to 004) and a line in it. *Earlier cited as* maps those numbers to keys: 000 is `cheng-2017`, whose
appendix 2 reprints `decision-2015`, `assessment-2016` and `exit-mechanism-2016`; 001 is a study
compilation holding `xi-2015`, `decision-2015`, `three-year-2018` and `hubei-2018`; 002 is
`plan-13th-fyp`; 003 is `three-year-2018`; 004 is `progress-2017`.
"""


def render_markdown() -> str:
    """``docs/sources.md``: every registry entry under its key, grouped by kind."""
    sources = load_sources()
    lines = [_INTRO]
    for kind, heading in _GROUPS:
        group = [s for s in sources.values() if s.kind == kind]
        if not group:
            continue
        lines.append(f"## {heading}\n")
        for s in group:
            lines.append(f"### {s.key}\n")
            for field, label in _FIELDS:
                value = getattr(s, field)
                if value:
                    lines.append(f"- **{label}:** {value}")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    """Print ``docs/sources.md``."""
    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover - python -m povsim.sources
    raise SystemExit(main())

"""Sources a reader can follow: every parameter source cites documents by key (``[plan-13th-fyp]
box 7``), every key resolves in the registry ``povsim/sources.toml`` with its full reference,
``docs/sources.md`` is generated from that registry, and ``povsim params`` prints the references."""

from __future__ import annotations

import re
import tomllib

import pytest

from conftest import REPO
from povsim.cli import main
from povsim.parameters import ParameterSet
from povsim.sources import CITATION, Source, cited_keys, load_sources, references, render_markdown

REGISTRY = tomllib.loads((REPO / "src" / "povsim" / "sources.toml").read_text(encoding="utf-8"))
"""The registry as written, so a malformed entry fails its own test below."""
PARAMETERS = {p.path: p for p in ParameterSet.priors()} | {f"{p.path} (calibrated)": p for p in ParameterSet.defaults()}
"""The documented parameters and the defaults (a calibrated one's source quotes its prior's)."""

SEED_CITATION = re.compile(
    r"\b\d{3}(?:_[0-9a-f]{16}\.txt)?\s+(?:lines?\s+\d|notes\s+§)"  # "000 line 816", "001 notes §7"
    r"|`\d{3}`\s+lines?\s+\d"  # "`000` lines 66, 187"
    r"|MODEL\.md|\.\./shared"
)
"""A citation of the project's private working copies, which a reader of the package does not have."""

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
CODE = sorted(p for p in (REPO / "src" / "povsim").rglob("*.py"))


@pytest.mark.parametrize("path", list(PARAMETERS), ids=str)
def test_every_key_a_source_cites_is_in_the_registry(path):
    source = PARAMETERS[path].source
    unknown = [key for key in cited_keys(source) if key not in load_sources()]
    assert not unknown, f"{path}: {unknown} not in povsim/sources.toml: {source}"


@pytest.mark.parametrize("path", list(PARAMETERS), ids=str)
def test_no_source_cites_a_seed_file_by_line(path):
    source = PARAMETERS[path].source
    assert not SEED_CITATION.search(source), f"{path}: {source}"


def test_some_sources_cite_documents():
    """The citation form is in use (a regex that matched nothing would let everything pass)."""
    cited = {key for p in PARAMETERS.values() for key in cited_keys(p.source)}
    assert {"plan-13th-fyp", "cheng-2017", "progress-2017", "decision-2015"} <= cited


@pytest.mark.parametrize("path", [*DOCS, *CODE], ids=lambda p: str(p.relative_to(REPO)))
def test_docs_and_code_cite_no_seed_file(path):
    text = path.read_text(encoding="utf-8")
    hits = [m.group(0) for m in SEED_CITATION.finditer(text)]
    assert not hits, f"{path.relative_to(REPO)}: {hits}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_cite_only_registered_keys(path):
    text = path.read_text(encoding="utf-8")
    unknown = [key for key in cited_keys(text) if key not in load_sources()]
    assert not unknown, f"{path.relative_to(REPO)}: {unknown}"


def test_model_doc_defines_a_link_for_every_key_it_cites():
    """docs/model.md writes ``[key] location``; a reference definition makes the key a link."""
    text = (REPO / "docs" / "model.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"^\[([a-z0-9-]+)\]: sources\.md#\1$", text, flags=re.MULTILINE))
    assert set(cited_keys(text)) <= defined


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_registry_entry_has_title_issuer_and_date(key):
    item = REGISTRY[key]
    for field in ("title", "issuer", "date", "published"):
        assert isinstance(item.get(field), str) and item[field].strip(), f"{key}: no {field}"
    if item.get("kind") == "core":  # the documents the model is built from: original title and English
        assert isinstance(item.get("title_en"), str) and item["title_en"].strip(), f"{key}: no title_en"
    Source(key=key, **item)  # and nothing else is wrong with it


def test_the_registry_loads_every_entry():
    assert list(load_sources()) == list(REGISTRY)
    with pytest.raises(ValueError, match="title"):
        Source(key="a-b", kind="core", title=" ", issuer="x", date="2016", published="x")


def test_docs_sources_md_lists_every_registry_key():
    text = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### (\S+)$", text, flags=re.MULTILINE)
    assert sorted(headings) == sorted(REGISTRY)


def test_docs_sources_md_is_generated_from_the_registry():
    text = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    assert text == render_markdown(), "regenerate it: python -m povsim.sources > docs/sources.md"


def test_registry_ships_with_the_package():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "sources.toml" in pyproject["tool"]["setuptools"]["package-data"]["povsim"]


def test_references_name_unknown_keys():
    assert cited_keys("a ([plan-13th-fyp] box 7; [cheng-2017] ch. 5; [plan-13th-fyp] box 1), x[0]") == [
        "plan-13th-fyp",
        "cheng-2017",
    ]
    assert references("see [no-such-key] p. 3") == ["[no-such-key] (not in the source registry)"]
    assert CITATION.fullmatch("[three-year-2018]")


def test_povsim_params_prints_the_full_reference(capsys):
    assert main(["params", "programs.relocation.planned_people"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("programs.relocation.planned_people = ")
    assert lines[1] == "    role: constant"
    assert lines[2].startswith("    source: ") and "[plan-13th-fyp] box 1" in lines[2]
    plan = next(line for line in lines[3:] if line.lstrip().startswith("[plan-13th-fyp]"))
    assert plan.startswith("      ")  # indented below the source, so no line is taken for a path
    for part in ("国务院关于印发“十三五”脱贫攻坚规划的通知", "State Council", "国发〔2016〕64号", "2016-11-23"):
        assert part in plan
    s = load_sources()["plan-13th-fyp"]
    assert all(part in plan for part in (s.title, s.title_en, s.issuer, s.number, s.date))


def test_povsim_params_prints_each_cited_key_once(capsys):
    assert main(["params", "budget.central_special_funds"]) == 0
    out = capsys.readouterr().out
    refs = [line.strip().split("]")[0] + "]" for line in out.splitlines() if line.startswith("      [")]
    assert refs == ["[progress-2017]", "[cheng-2017]"]

"""What the rendered catalog says, checked without external tools.

- no ASCII math in prose, headings, captions or justifications (``**``, ``*``
  between factors, ``_``-joined names such as ``sigma_B``) outside ``$...$``;
- every banner counts as proved only the proofs that are proved (never one
  that rests on a cited lemma or is only checked numerically), and never says
  "all N proofs".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Mapping

import pytest

import symgrad.catalog
from symgrad.core.errors import InputError
from symgrad.proofs.documents import Figure, Listing, ProofBlock, Prose, Section, Table
from symgrad.rendering.escape import split_math

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"

#: ASCII math in text: a power, a product sign between factors, an underscore-joined name.
ASCII_MATH = re.compile(r"\w*\*\*\w*|\w+ \* \w+|\w+\*\w+|\b[A-Za-z]+_[A-Za-z0-9]+\b")


def _text(s: str) -> str:
    """The text of prose outside its ``$...$`` math (all of it if its dollars don't pair)."""
    try:
        return " ".join(seg.text for seg in split_math(s) if not seg.math)
    except InputError:
        return s


def _captions(caption: str | Mapping[str, str] | None) -> list[str]:
    if caption is None:
        return []
    return list(caption.values()) if isinstance(caption, Mapping) else [caption]


def _proof_texts(proof) -> Iterator[tuple[str, str]]:
    if proof.title:
        yield "heading", proof.title
    for (_, _, _, by), step in zip(proof.links(), proof.steps):
        yield "justification", str(by)
        for sub in step.details:
            yield from _proof_texts(sub)


def _texts(document) -> Iterator[tuple[str, str]]:
    """(kind, text) of every piece of prose, heading, caption and justification of ``document``."""
    yield "heading", document.title
    yield "prose", document.summary
    for block in document.blocks:
        if isinstance(block, Prose):
            yield "prose", block.text
        elif isinstance(block, Section):
            yield "heading", block.title
        elif isinstance(block, (Table, Listing, Figure)):
            for caption in _captions(block.caption):
                yield "caption", caption
        elif isinstance(block, ProofBlock):
            if block.title:
                yield "heading", block.title
            yield from _proof_texts(block.proof)


def _offenders() -> set[tuple[str, str]]:
    """(entry, offending string) for every piece of ASCII math outside ``$...$``."""
    found = set()
    for name in symgrad.catalog.names():
        for _kind, text in _texts(symgrad.catalog.get(name)):
            for match in ASCII_MATH.finditer(" ".join(_text(text).split())):
                found.add((name, match.group()))
    return found


def test_no_ascii_math_in_text() -> None:
    found = sorted(_offenders())
    assert not found, ("ASCII math in prose/headings/captions/justifications (write it as $...$ math):\n"
                       + "\n".join(f"  {n}\t{t}" for n, t in found))


@pytest.mark.parametrize("text, bad", [
    ("sigma_B and x_1", True), ("x**2", True), ("2 * x", True), ("a*b", True),
    ("the $\\sigma_B$ of $x^2$", False), ("*emphasis* only", False), ("snake case in `code`", False),
])
def test_ascii_math_pattern(text: str, bad: bool) -> None:
    assert bool(ASCII_MATH.search(_text(text))) is bad


_BANNER = re.compile(r"^\*Checked by symgrad: (.*)\*$", re.M)


def _top_level_conclusions(md: str) -> list[str]:
    return re.findall(r"^\*\*(Proved|Rests on|Checked numerically|Refuted|Unknown|Claim)\b", md, re.M)


@pytest.mark.parametrize("md", sorted(DERIVATIONS.glob("*.md")), ids=lambda p: p.name)
def test_banner_counts_only_proved_proofs(md: Path) -> None:
    text = md.read_text(encoding="utf-8")
    banners = _BANNER.findall(text)
    assert len(banners) <= 1
    if not banners:
        return
    banner = banners[0]
    assert not re.search(r"\ball \d+ proofs\b", banner), banner
    m = re.match(r"(\d+) of (\d+) proofs? (?:is|are) proved(.*)\.$", banner)
    assert m, f"banner not in the form 'k of n proofs are proved; ...': {banner}"
    conclusions = _top_level_conclusions(text)
    assert int(m.group(1)) == conclusions.count("Proved"), (banner, conclusions)
    assert int(m.group(2)) == len(conclusions), (banner, conclusions)
    if "Rests on" in conclusions:
        assert "cited lemma" in m.group(3), banner
    if "Checked numerically" in conclusions:
        assert "numerically" in m.group(3), banner

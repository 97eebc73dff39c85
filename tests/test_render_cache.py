"""The cache of rendered catalog entries: byte-identical output, exact invalidation, honest storage."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from symgrad import catalog, cli
from symgrad.cli import main
from symgrad.core import cache

pytestmark = pytest.mark.fresh_kernel  # these tests watch the caches themselves

NAMES = ["gradient-flow", "gradient-clipping"]  # small entries, both with a figure


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def render(out_dir: Path, *extra: str, names: list[str] = NAMES) -> dict[str, bytes]:
    code, out, err = run("render", *names, "-f", "md", "-f", "tex", "--jobs", "1", "--out", str(out_dir), *extra)
    assert code == 0, err
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


def stored(directory: Path) -> list[Path]:
    renders = directory / cache.RENDER_FORMAT
    return sorted(renders.glob("*.json")) if renders.is_dir() else []


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The command line's caches in a fresh directory."""
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    yield tmp_path / "cache"
    cache.use(None)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The entries checked (not read from the render cache) while the test runs."""
    from symgrad.proofs.documents import Document

    checked: list[str] = []
    real = Document.check

    def counting(self: Document, *args: object, **kwargs: object) -> object:
        checked.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Document, "check", counting)
    return checked


def fill(cache_dir: Path, out_dir: Path, names: list[str] = NAMES) -> dict[str, bytes]:
    """Render until every entry is stored: a verdict cut short by a loaded machine is (rightly) not stored."""
    for attempt in range(3):
        files = render(out_dir / str(attempt), names=names)
        if len(stored(cache_dir)) == len(names):
            return files
    pytest.fail(f"only {len(stored(cache_dir))} of {len(names)} entries were stored after 3 renders")


def test_warm_render_is_byte_identical_and_builds_nothing(cache_dir: Path, tmp_path: Path,
                                                         builds: list[str]) -> None:
    uncached = render(tmp_path / "uncached", "--no-cache")
    assert not stored(cache_dir)
    cold = fill(cache_dir, tmp_path / "cold")
    builds.clear()
    warm = render(tmp_path / "warm")
    assert builds == []  # every entry came from the render cache
    assert uncached == cold == warm
    assert {f"{n}{s}" for n in NAMES for s in (".md", ".tex")} <= set(uncached)  # and any figure files


def test_editing_one_entry_rerenders_only_it(cache_dir: Path, tmp_path: Path, builds: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    before = fill(cache_dir, tmp_path / "cold")
    edited = catalog.source_files("gradient-clipping")
    module = Path(catalog.__file__).parent / "clipping.py"
    assert module in edited and Path(catalog.__file__).parent / "sigmoid.py" not in edited
    real = catalog.file_digest
    monkeypatch.setattr(catalog, "file_digest", lambda path: "edited" if Path(path) == module else real(path))
    builds.clear()
    after = render(tmp_path / "after")
    assert builds == ["gradient-clipping"]
    assert after == before


def test_sources_of_an_entry() -> None:
    package = Path(catalog.__file__).parents[1]
    files = catalog.source_files("batchnorm-backward")
    assert package / "core" / "kernel.py" in files
    assert package / "catalog" / "batchnorm.py" in files
    assert any("support" in p.parts for p in files)
    assert package / "catalog" / "lstm.py" not in files
    assert catalog.source_fingerprint("lstm-gating") != catalog.source_fingerprint("batchnorm-backward")


def test_key_depends_on_formats_options_and_template_dirs(tmp_path: Path) -> None:
    from symgrad.core.kernel import CheckOptions

    md, tex = (("markdown", ".md"),), (("latex", ".tex"),)
    base = cli._render_key(NAMES[0], None, md, None)
    assert base is not None and base == cli._render_key(NAMES[0], None, md, None)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "proof.md.j2").write_text("one")
    first = cli._render_key(NAMES[0], None, md, [str(templates)])
    (templates / "proof.md.j2").write_text("two")
    second = cli._render_key(NAMES[0], None, md, [str(templates)])
    keys = {base, cli._render_key(NAMES[1], None, md, None), cli._render_key(NAMES[0], None, tex, None),
            cli._render_key(NAMES[0], CheckOptions(budget=3), md, None), first, second}
    assert len(keys) == 6


@pytest.mark.parametrize("damage", ["truncated", "not json", "other key", "wrong type", "extra field", "empty"])
def test_a_damaged_render_file_is_a_miss(tmp_path: Path, damage: str) -> None:
    store = cache.RenderCache(tmp_path)
    key = "ab" * 32
    store.put(key, [("a.md", "# A\n"), ("a.tex", "\\section{A}\n")], True, "proved")
    assert store.get(key) == ([("a.md", "# A\n"), ("a.tex", "\\section{A}\n")], True, "proved")
    path = store.directory / f"{key}.json"
    data = json.loads(path.read_text())
    text = {
        "truncated": path.read_text()[:-5],
        "not json": "\x00\x01 nonsense",
        "other key": json.dumps({**data, "key": "cd" * 32}),
        "wrong type": json.dumps({**data, "files": [["a.md", 3]]}),
        "extra field": json.dumps({**data, "note": "x"}),
        "empty": "",
    }[damage]
    path.write_text(text)
    assert store.get(key) is None


def test_a_damaged_render_file_is_rendered_again(cache_dir: Path, tmp_path: Path, builds: list[str]) -> None:
    before = fill(cache_dir, tmp_path / "cold", names=NAMES[:1])
    for path in stored(cache_dir):
        path.write_text(path.read_text().replace('"ok": true', '"ok": "yes"'))
    builds.clear()
    assert render(tmp_path / "again", names=NAMES[:1]) == before
    assert builds == NAMES[:1]


def test_a_stand_in_catalog_is_never_cached(cache_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents that do not come from the entries' modules have no sources to key on."""
    real = catalog.get
    monkeypatch.setattr(catalog, "get", lambda name: real(name))
    render(tmp_path / "out", names=NAMES[:1])
    assert stored(cache_dir) == []
    monkeypatch.setitem(catalog._BY_NAME, "no-module", catalog.Entry("no-module", "", "", "none"))
    with pytest.raises(ValueError):
        catalog.source_fingerprint("no-module")


def test_keys_are_hex_digests_only(tmp_path: Path) -> None:
    store = cache.RenderCache(tmp_path / "c")
    assert store.get("../../x") is None
    with pytest.raises(ValueError):
        store.put("../../x", [("a.md", "")], True, "proved")
    assert not any(tmp_path.rglob("*.json"))


def test_an_entry_whose_verdicts_were_not_stored_is_not_stored(cache_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A verdict that may depend on the clock is not stored, and neither is a rendering that shows it."""
    monkeypatch.setattr(cache, "_storable", lambda verdict, cut: False)
    render(tmp_path / "out", names=NAMES[:1])
    assert stored(cache_dir) == []


def test_an_entry_whose_producer_was_cut_short_is_not_stored(cache_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A tidy-up (or any computation outside a decision) that the clock cut short may change the document."""
    from symgrad.core import budget
    from symgrad.proofs.documents import Document

    real = Document.check

    def cut_while_building(self: Document, *args: object, **kwargs: object) -> object:
        with pytest.raises(budget.OutOfTime):
            budget.run_within(lambda: [i for i in iter(int, 1)], 0.01)  # a producer's step, cut short
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Document, "check", cut_while_building)
    before = cache.unsettled()
    render(tmp_path / "out", names=NAMES[:1])
    assert cache.unsettled() > before
    assert stored(cache_dir) == []


def test_cache_clear_removes_rendered_entries(cache_dir: Path, tmp_path: Path) -> None:
    fill(cache_dir, tmp_path / "cold", names=NAMES[:1])
    code, out, _ = run("cache", "clear")
    assert code == 0 and "removed" in out
    assert stored(cache_dir) == [] and not (cache_dir / cache.RENDER_FORMAT).exists()


def test_a_warm_render_imports_no_sympy(cache_dir: Path, tmp_path: Path) -> None:
    before = fill(cache_dir, tmp_path / "cold")
    out_dir = tmp_path / "fresh"
    code = textwrap.dedent(f"""
        import io, json, sys
        from symgrad.cli import main
        code = main(["render", *{NAMES!r}, "-f", "md", "-f", "tex", "--out", {str(out_dir)!r}],
                    out=io.StringIO(), err=io.StringIO())
        print(json.dumps({{"code": code, "sympy": "sympy" in sys.modules}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, cache.ENV_DIR: str(cache_dir)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"code": 0, "sympy": False}
    assert {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())} == before

"""Dependencies stay where they belong: a scan of every module's imports."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "vedit"

# third-party module -> the only places under vedit/ allowed to import it
WALLS = {
    "av": ("io/",),
    "ffmpeg": ("io/",),
    "mediapipe": ("faces/",),
    "click": ("cli.py",),
    "dask": ("batch/",),
    "distributed": ("batch/",),
    "torch": ("models/", "engines/liveportrait", "engines/neural"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_third_party_imports_stay_behind_their_walls():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        for module in _imports(path):
            allowed = WALLS.get(module)
            if allowed is not None and not rel.startswith(allowed):
                offenders.append(f"{rel} imports {module}")
    assert not offenders, offenders


def test_the_scan_sees_imports():
    """The scan itself works: it finds av in the I/O layer."""
    assert "av" in _imports(PKG / "io" / "reader.py")

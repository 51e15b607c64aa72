"""Declared requirements are what the matrix tests.

``scripts/matrix`` installs ``constraints/lowest.txt`` in its "lowest" cells;
a lower bound in setup.cfg that the file does not pin exactly (same version,
same environment marker) would be a promise nothing tests. The Python
versions the metadata claims are the ones the matrix runs, and CI runs it.
"""

from __future__ import annotations

import configparser
import pathlib
import re

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parent.parent


def lines(text: str) -> list[str]:
    stripped = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in stripped if line]


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def lower_bounds() -> dict[tuple[str, str], Version]:
    """``(name, marker) -> lowest version`` of every runtime requirement."""
    bounds = {}
    for line in lines(setup_cfg()["options"]["install_requires"]):
        req = Requirement(line)
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{line}: one >= lower bound, tested by the lowest cells"
        bounds[(req.name.lower(), str(req.marker or ""))] = floors[0]
    return bounds


def pins() -> dict[tuple[str, str], Version]:
    result = {}
    for line in lines((ROOT / "constraints" / "lowest.txt").read_text()):
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", line
        result[(req.name.lower(), str(req.marker or ""))] = Version(spec.version)
    return result


def test_every_lower_bound_is_pinned_exactly() -> None:
    pinned = pins()
    for key, floor in lower_bounds().items():
        assert key in pinned, f"{key} has a lower bound the lowest cells do not install"
        assert pinned[key] == floor, f"{key}: declared >= {floor}, lowest cells install {pinned[key]}"


def test_pins_of_runtime_names_are_declared_bounds() -> None:
    """A pin above a declared bound would test less than the metadata promises."""
    declared = {name for name, _ in lower_bounds()}
    for (name, marker), version in pins().items():
        if name in declared:
            assert lower_bounds().get((name, marker)) == version, (name, marker)


def test_python_versions_are_the_matrix() -> None:
    matrix = (ROOT / "scripts" / "matrix").read_text()
    (tested,) = re.findall(r"^PYTHONS = \((.*)\)$", matrix, re.MULTILINE)
    tested_versions = re.findall(r'"(3\.\d+)"', tested)
    classifiers = setup_cfg()["metadata"]["classifiers"]
    claimed = re.findall(r"Programming Language :: Python :: (3\.\d+)$", classifiers, re.MULTILINE)
    assert claimed == tested_versions
    assert setup_cfg()["options"]["python_requires"] == f">={tested_versions[0]}"
    assert "scripts/matrix" in (ROOT / ".ci" / "run").read_text()

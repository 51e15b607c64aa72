"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html`` (and ``-b doctest``)."""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import flask_sessionauth  # noqa: E402

project = "flask-sessionauth"
copyright = "the flask-sessionauth authors"
release = version = flask_sessionauth.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "pallets_sphinx_themes",
    "sessionauth_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "screenshots.py"]

# Markdown: GitHub-style heading anchors, so the pages' own ``#section`` links work.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
# The Pallets theme adds domains that cannot resolve MyST's generic links; ours never need them.
suppress_warnings = ["myst.domains"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
# Only our own docstrings: SQLAlchemy's refer to labels of its own documentation.
autodoc_inherit_docstrings = False

intersphinx_mapping = {}

html_theme = "flask"
html_context = {"project_links": []}
html_sidebars = {"**": ["localtoc.html", "relations.html", "searchbox.html"]}
html_title = f"flask-sessionauth {version}"
html_show_sourcelink = False
html_static_path: list[str] = []

# Every example runs in a fresh temporary directory, so a SQLite file or
# Flask's instance folder never lands in the checkout; ``__name__`` is what a
# module's would be (doctest's is "builtins", which ``Flask(__name__)`` refuses).
doctest_global_setup = """
import os, tempfile
os.chdir(tempfile.mkdtemp(prefix="sessionauth-docs-"))
__name__ = "example"
"""

"""The catalogues cannot rot: every marked string is in the shipped ``.pot``; every
shipped language translates every entry (no fuzzy, no stale one) and keeps its
placeholders; the committed ``.mo`` files say what the ``.po`` files say; and the
text of templates and the user-facing literals of Python code are marked at all
(heuristics: text between tags, sentence-like attributes and string literals in
templates; literals handed to ``flash``, ``click.echo``, exceptions and ``message=``)."""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import re
import sys

import jinja2
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sessionauth_i18n_script", ROOT / "scripts" / "i18n.py")
assert spec is not None and spec.loader is not None
catalogues = importlib.util.module_from_spec(spec)
sys.modules["sessionauth_i18n_script"] = catalogues
spec.loader.exec_module(catalogues)

SHIPPED = ("ar", "de", "es", "fr", "ja")
#: Attributes people read (or hear): their values must be translated.
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "aria-description")
WRAPPERS = {"_sa", "_sa_n"}
#: An English phrase: a capital letter, then at least one more word.
PHRASE = re.compile(r"^[A-Z][a-z']+(?: [\w'(),.-]+)+[.!?]?$")
#: Calls whose literal argument a user reads; developer errors are exempt.
USER_FACING_CALLS = ("flash", "echo", "ClickException", "UsageError", "ValidationError")
DEVELOPER_ERRORS = {"ValueError", "TypeError", "RuntimeError", "KeyError", "SecurityError", "AttributeError"}


def test_every_shipped_language_has_a_catalogue() -> None:
    assert set(SHIPPED) <= set(catalogues.locales())


def test_the_template_lists_every_marked_string_and_nothing_stale() -> None:
    assert catalogues.pot_problems() == []


@pytest.mark.parametrize("locale", SHIPPED)
def test_catalogue_is_complete_without_fuzzy_or_obsolete_entries(locale: str) -> None:
    assert catalogues.catalogue_problems(locale) == []


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_translation_keeps_its_placeholders(locale: str) -> None:
    assert catalogues.placeholder_errors(locale) == []


@pytest.mark.parametrize("locale", SHIPPED)
def test_committed_mo_matches_its_po(locale: str) -> None:
    assert not catalogues.stale_mo(locale), f"run: python scripts/i18n.py compile ({locale})"


def unwrapped_template_text(source: str) -> list[str]:
    """Readable English in a template that no ``_sa``/``_sa_n`` call wraps."""
    source = re.sub(r"<style\b.*?</style>", " ", source, flags=re.S)  # CSS is not text
    markup = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "\x00", source, flags=re.S)
    found = []
    for attribute in READ_ATTRIBUTES:
        found += re.findall(rf'\b{attribute}="([^"\x00]*[A-Za-z][^"\x00]*)"', markup)
    visible = re.sub(r"<!--.*?-->|<[^>]*>", " ", markup, flags=re.S)
    found += [w for w in re.findall(r"[A-Za-z][A-Za-z' ,.!?-]*[A-Za-z.!?]", visible) if len(w) > 1]
    calls: list[str | None] = []
    previous = ("", "")
    for _lineno, kind, value in jinja2.Environment(extensions=["jinja2.ext.do"]).lex(source):
        if kind == "operator" and value == "(":
            calls.append(previous[1] if previous[0] == "name" else None)
        elif kind == "operator" and value == ")" and calls:
            calls.pop()
        elif kind == "string" and PHRASE.match(value[1:-1]) and not WRAPPERS.intersection(c for c in calls if c):
            found.append(value[1:-1])
        if kind != "whitespace":
            previous = (kind, value)
    return found


TEMPLATES = sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "templates").rglob("*.txt")])


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_template_text_is_marked_for_translation(path: pathlib.Path) -> None:
    assert unwrapped_template_text(path.read_text(encoding="utf-8")) == []


def test_the_template_check_finds_unmarked_text() -> None:
    assert unwrapped_template_text("<p>Sign out</p>") == ["Sign out"]
    assert unwrapped_template_text('<a title="Open the menu" href="{{ x }}">{{ _sa("Menu") }}</a>') == ["Open the menu"]
    assert unwrapped_template_text('{{ value or "Unknown device name" }}') == ["Unknown device name"]
    assert unwrapped_template_text('{{ _sa("Sign out %(device)s", device=name or "No name given") }}') == []
    assert unwrapped_template_text('<span class="sa-dot">·</span>{# A comment #}<div class="x"></div>') == []


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _literal(node: ast.AST | None) -> bool:
    """A plain or f-string with words in it (not an already-marked call)."""
    if isinstance(node, ast.JoinedStr):
        return True
    return (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(re.search(r"[A-Za-z]{2}", node.value))
    )


def unmarked_python_strings(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            user_facing = name in USER_FACING_CALLS or (
                name not in DEVELOPER_ERRORS and (name.endswith("Error") or name in ("NotSignedIn", "InvalidBody"))
            )
            if user_facing and node.args and _literal(node.args[0]):
                found.append(f"{name}({ast.unparse(node.args[0])})")
            found += [f"{name}(message=...)" for k in node.keywords if k.arg == "message" and _literal(k.value)]
        elif isinstance(node, ast.ClassDef):
            found += [
                f"class {node.name}(message=...)" for k in node.keywords if k.arg == "message" and _literal(k.value)
            ]
    return found


#: What users read: pages, forms, API and CLI answers, errors, messages (not logs, not docs).
PYTHON_SOURCES = sorted(
    [*(ROOT / "flask_sessionauth" / "web").glob("*.py"), *(ROOT / "flask_sessionauth" / "core").glob("*.py")]
    + [ROOT / "flask_sessionauth" / "glue" / n for n in ("actions.py", "responses.py", "hook.py")]
    + [ROOT / "flask_sessionauth" / "services" / "accounts.py"]
)


@pytest.mark.parametrize("path", PYTHON_SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_user_facing_python_strings_are_marked(path: pathlib.Path) -> None:
    assert unmarked_python_strings(path.read_text(encoding="utf-8")) == []


def test_the_python_check_finds_unmarked_strings() -> None:
    source = (
        'flash("Saved.")\n'
        'click.echo(f"Deleted {n} rows.")\n'
        'raise InvalidBody("Bad body.")\n'
        'class Gone(SessionAuthError, message="It is gone."): ...\n'
        'flash(_("Saved."))\n'
        'raise ValueError("a developer mistake")\n'
    )
    assert sorted(unmarked_python_strings(source)) == [
        "InvalidBody('Bad body.')",
        "class Gone(message=...)",
        "echo(f'Deleted {n} rows.')",
        "flash('Saved.')",
    ]

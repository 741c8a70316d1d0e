"""Translations stay complete: catalogs match the sources, templates hold no bare text, catalogs compile.

None of these tests needs a database or the network.
"""
from __future__ import annotations

import gettext
import re
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from pyramid.i18n import make_localizer

from nsupdate_pyramid.i18n import DOMAIN, _
from nsupdate_pyramid.scripts import catalogs

UPDATE_HINT = "run: python -m nsupdate_pyramid.scripts.catalogs update"
TEMPLATE_DIR = catalogs.PACKAGE_DIR / "templates"
TEMPLATES = sorted(TEMPLATE_DIR.rglob("*.jinja2"))

# Words that may appear as literal text outside gettext. Keep it tiny and say why for each.
ALLOWED_WORDS: frozenset[str] = frozenset()
# Attributes a user reads (or a screen reader speaks); they must come from {{ _(...) }}.
VISIBLE_ATTRIBUTES = frozenset({"title", "placeholder", "alt", "aria-label"})
BUTTON_INPUT_TYPES = frozenset({"submit", "button", "reset"})  # their value is the button's label
PLACEHOLDER = "\x1a"  # stands in for Jinja expressions/tags: not a letter, not HTML syntax
WORD = re.compile(r"[^\W\d_]+")  # a run of letters, in any script


# --- (a) the committed catalogs know every message the sources use ---------------------------


def _read_catalog(path: Path) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj)


def test_template_catalog_has_every_extracted_message() -> None:
    extracted = catalogs.message_keys(catalogs.extract_catalog())
    assert extracted, "extraction found no messages at all: is babel.cfg right?"
    committed = catalogs.message_keys(_read_catalog(catalogs.TEMPLATE_FILE))
    missing = sorted(repr(msgid) for _context, msgid in extracted - committed)
    assert not missing, (
        f"{catalogs.TEMPLATE_FILE.name} lacks {len(missing)} message(s) used in the sources:\n  "
        + "\n  ".join(missing) + f"\n{UPDATE_HINT}"
    )


@pytest.mark.parametrize("po_path", catalogs.catalog_files(), ids=lambda path: path.parent.parent.name)
def test_language_catalogs_have_every_template_message(po_path: Path) -> None:
    template = catalogs.message_keys(_read_catalog(catalogs.TEMPLATE_FILE))
    language = catalogs.message_keys(_read_catalog(po_path))
    missing = sorted(repr(msgid) for _context, msgid in template - language)
    assert not missing, f"{po_path} lacks:\n  " + "\n  ".join(missing) + f"\n{UPDATE_HINT}"


def test_there_is_an_english_catalog() -> None:
    assert catalogs.LOCALE_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po" in catalogs.catalog_files()


# --- (b) no literal text in templates outside gettext ------------------------------------------


def mask_template(source: str) -> str:
    """The template's literal HTML, with every Jinja construct and {% trans %} block replaced.

    Each replaced run becomes one PLACEHOLDER (plus the newlines it spanned), so HTML that a
    tag splits (``<a href="{{ url }}">``) still parses, and line numbers stay those of the source.
    """
    environment = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    pieces: list[str] = []
    line = 1  # the line the masked text has reached
    in_trans = False
    after_block_begin = False
    for lineno, token_type, value in environment.lex(source):
        if after_block_begin and token_type == "name":  # the tag's name: {% trans ... %}
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
            after_block_begin = False
        elif token_type == "block_begin":
            after_block_begin = True
        if token_type == "data" and not in_trans:
            if line < lineno:
                pieces.append("\n" * (lineno - line))
                line = lineno
            pieces.append(value)
            line += value.count("\n")
        elif not pieces or pieces[-1] != PLACEHOLDER:
            pieces.append(PLACEHOLDER)
    return "".join(pieces)


class BareTextFinder(HTMLParser):
    """Collects (line, what) for letters in text and in user-visible attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[tuple[int, str]] = []
        self._raw_depth = 0  # inside <script>/<style>: code, not text

    def _check(self, text: str, where: str) -> None:
        words = [word for word in WORD.findall(text) if word not in ALLOWED_WORDS]
        if words:
            shown = text.replace(PLACEHOLDER, "{{…}}").strip()
            self.problems.append((self.getpos()[0], f"{where}: {shown!r}"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._raw_depth += 1
        attributes = {name: value or "" for name, value in attrs}
        for name, value in attributes.items():
            if name in VISIBLE_ATTRIBUTES:
                self._check(value, f"<{tag} {name}=...>")
        if tag == "input" and attributes.get("type", "").lower() in BUTTON_INPUT_TYPES:
            self._check(attributes.get("value", ""), f"<input type={attributes['type']} value=...>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._raw_depth:
            self._raw_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._raw_depth:
            self._check(data, "text")

    # HTML comments (handle_comment), <!DOCTYPE> and processing instructions are ignored.


def bare_text(source: str) -> list[tuple[int, str]]:
    finder = BareTextFinder()
    finder.feed(mask_template(source))
    finder.close()
    return finder.problems


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(TEMPLATE_DIR)))
def test_templates_have_no_bare_text(template: Path) -> None:
    problems = bare_text(template.read_text(encoding="utf-8"))
    name = template.relative_to(catalogs.SOURCE_ROOT)
    assert not problems, (
        "literal text outside {{ _('...') }} / {% trans %}, which no language can translate:\n"
        + "\n".join(f"  {name}:{line}: {what}" for line, what in problems)
    )


def test_templates_were_found() -> None:
    assert len(TEMPLATES) >= 5, f"expected the app's templates under {TEMPLATE_DIR}"


@pytest.mark.parametrize(("source", "line"), [
    ("<p>Hello</p>", 1),
    ("{% if x %}\n<p>{{ y }} items</p>{% endif %}", 2),
    ('<a href="{{ url }}" title="Go home">{{ _("Home") }}</a>', 1),
    ('<img src="x.png" alt="{{ _(\'Logo\') }} image">', 1),
    ('{# note #}\n<input type="submit" value="Save">', 2),
    ("{% trans %}Hi{% endtrans %} there", 1),
    ("{% block b %}\n{% endblock %}\n\n<p aria-label='Menu'></p>", 4),
])
def test_bare_text_finder_catches(source: str, line: int) -> None:
    assert [found_line for found_line, _what in bare_text(source)] == [line]


@pytest.mark.parametrize("source", [
    "<!DOCTYPE html>\n<html lang=\"{{ lang }}\"><!-- a comment with words --></html>",
    '<p class="muted" id="visitor-address">{{ _("Hello") }} · {{ name }} &middot; \u2013</p>',
    "<script>let words = 'not text';</script><style>body { color: red; }</style>",
    '<input type="hidden" name="csrf" value="token"><input type="checkbox" value="on">',
    '<a title="{{ _(\'Home\') }}" href="{{ url }}/hosts/">{{ _("Go") }}</a>',
    "{% trans n=3 %}{{ n }} host{% pluralize %}{{ n }} hosts{% endtrans %}",
    "{# Jinja comments are not output #}{{ x.strftime('%Y UTC') }}",
])
def test_bare_text_finder_allows(source: str) -> None:
    assert bare_text(source) == []


# --- (c) the catalogs compile into something gettext and Pyramid can load ----------------------


def test_catalogs_compile_and_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = catalogs.compile_catalogs(output_dir=tmp_path)
    assert tmp_path / "en" / "LC_MESSAGES" / f"{DOMAIN}.mo" in written
    translation = gettext.translation(DOMAIN, tmp_path, languages=["en"])
    assert isinstance(translation, gettext.GNUTranslations)
    assert translation.info()["language"] == "en"
    assert translation.gettext("Log in") == "Log in"  # untranslated English falls back to the msgid
    localizer = make_localizer("en", [str(tmp_path)])
    message = _("There is no domain ${domain}.", mapping={"domain": "example.org"})
    assert localizer.translate(message) == "There is no domain example.org."
    assert "translated" in capsys.readouterr().out


def _write_catalog(locale_dir: Path, language: str, body: str) -> Path:
    path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    path.parent.mkdir(parents=True)
    path.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        f'"Language: {language}\\n"\n\n{body}',
        encoding="utf-8",
    )
    return path


def test_compile_uses_translations_but_not_fuzzy_ones(tmp_path: Path) -> None:
    _write_catalog(tmp_path, "de", (
        'msgid "Log in"\nmsgstr "Anmelden"\n\n'
        '#, fuzzy\nmsgid "Log out"\nmsgstr "Abmelden?"\n\n'
        'msgid "There is no domain ${domain}."\nmsgstr "Es gibt keine Domain ${domain}."\n'
    ))
    catalogs.compile_catalogs(locale_dir=tmp_path)
    translation = gettext.translation(DOMAIN, tmp_path, languages=["de"])
    assert translation.gettext("Log in") == "Anmelden"
    assert translation.gettext("Log out") == "Log out"  # a fuzzy guess must not reach users
    localizer = make_localizer("de", [str(tmp_path)])
    message = _("There is no domain ${domain}.", mapping={"domain": "example.org"})
    assert localizer.translate(message) == "Es gibt keine Domain example.org."


def test_compile_refuses_a_catalog_that_breaks_formatting(tmp_path: Path) -> None:
    _write_catalog(tmp_path, "de", '#, python-format\nmsgid "Hello %(name)s"\nmsgstr "Hallo %(nom)s"\n')
    with pytest.raises(ValueError, match="Hello"):
        catalogs.compile_catalogs(locale_dir=tmp_path)
    assert not (tmp_path / "de" / "LC_MESSAGES" / f"{DOMAIN}.mo").exists()

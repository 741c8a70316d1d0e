"""Maintain the translation catalogs: ``python -m nsupdate_pyramid.scripts.catalogs COMMAND``.

Commands:

``extract``
    write ``locale/nsupdate_pyramid.pot`` from the Python sources and templates.
``update``
    ``extract``, then merge the template into every ``locale/<lang>/LC_MESSAGES/*.po``.
``init LANG``
    start the catalog of a new language from the template.
``compile``
    build a ``.mo`` next to every ``.po`` (the ``.mo`` files are not in git).
``check``
    exit 1 and list the messages when the committed template or catalogs lag behind the sources.

It wraps Babel's Python API instead of ``pybabel`` so that the options live in one place
(``babel.cfg`` and the ``[extract_messages]`` section of ``setup.cfg``) and the test suite
can run the very same extraction in memory. Extraction and ``check`` need a source checkout;
``compile`` only needs the package.
"""
from __future__ import annotations

import argparse
import configparser
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import listify_value, parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from .. import __version__
from ..i18n import DOMAIN

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = PACKAGE_DIR / "locale"
TEMPLATE_FILE = LOCALE_DIR / f"{DOMAIN}.pot"
SOURCE_ROOT = PACKAGE_DIR.parent  # babel.cfg patterns are relative to the repository root
MAPPING_FILE = SOURCE_ROOT / "babel.cfg"
SETUP_CFG = SOURCE_ROOT / "setup.cfg"
WIDTH = 76  # Babel's default line width, so our output matches "pybabel extract"

# Header lines that change on every run; comparing without them avoids rewriting unchanged files.
_VOLATILE_HEADER = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)

MessageKey = tuple[str | None, str | tuple[str, ...]]  # (context, msgid or (singular, plural))


@dataclass(frozen=True)
class ExtractOptions:
    """What ``[extract_messages]`` in setup.cfg says, so both front ends extract the same way."""

    keywords: dict[str, object]
    comment_tags: list[str]
    project: str
    copyright_holder: str
    msgid_bugs_address: str | None


def read_extract_options(setup_cfg: Path = SETUP_CFG) -> ExtractOptions:
    """The project's extraction options; Babel's defaults where setup.cfg is silent."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(setup_cfg, encoding="utf-8")
    section = parser["extract_messages"] if parser.has_section("extract_messages") else {}
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(listify_value(section.get("keywords", ""))))
    return ExtractOptions(
        keywords=keywords,
        comment_tags=listify_value(section.get("add_comments", ""), ","),
        project=section.get("project", "nsupdate-pyramid"),
        copyright_holder=section.get("copyright_holder", ""),
        msgid_bugs_address=section.get("msgid_bugs_address"),
    )


def extract_catalog(root: Path = SOURCE_ROOT, mapping_file: Path = MAPPING_FILE) -> Catalog:
    """Extract every message from the sources into a template catalog, in memory."""
    if not mapping_file.is_file():
        raise FileNotFoundError(f"{mapping_file} is missing: extraction needs a source checkout")
    options = read_extract_options(root / "setup.cfg")
    with mapping_file.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename=str(mapping_file))
    catalog = Catalog(
        project=options.project,
        version=__version__,
        copyright_holder=options.copyright_holder,
        msgid_bugs_address=options.msgid_bugs_address,
        charset="utf-8",
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        root, method_map, options_map, keywords=options.keywords, comment_tags=options.comment_tags,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def message_keys(catalog: Catalog) -> set[MessageKey]:
    """The identities of the real messages of a catalog (not the header, not obsolete ones)."""
    return {(message.context, message.id) for message in catalog if message.id}


def catalog_files(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Every language's ``.po`` file of our domain."""
    return sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN)


def _render(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_po(buffer, catalog, width=WIDTH)
    return buffer.getvalue()


def _write_if_changed(path: Path, catalog: Catalog) -> bool:
    """Write the catalog unless only its timestamps would change, to keep git diffs meaningful."""
    content = _render(catalog)
    if path.is_file() and _VOLATILE_HEADER.sub(b"", path.read_bytes()) == _VOLATILE_HEADER.sub(b"", content):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return True


def extract(template_file: Path = TEMPLATE_FILE) -> Catalog:
    """Write the template (.pot) from the sources and return it."""
    template = extract_catalog()
    changed = _write_if_changed(template_file, template)
    print(f"{template_file}: {len(message_keys(template))} messages{'' if changed else ', unchanged'}")
    return template


def init(language: str, template_file: Path = TEMPLATE_FILE, locale_dir: Path = LOCALE_DIR) -> Path:
    """Start a new language's catalog from the template; refuses to overwrite one."""
    locale = Locale.parse(language)
    target = locale_dir / str(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if target.exists():
        raise FileExistsError(f"{target} exists; use 'update'")
    catalog = _read(template_file, locale=str(locale))
    catalog.locale = locale
    catalog.fuzzy = False  # the template's header is fuzzy; a catalog that is would not compile
    _write_if_changed(target, catalog)
    print(f"{target}: created")
    return target


def update(template_file: Path = TEMPLATE_FILE, locale_dir: Path = LOCALE_DIR) -> None:
    """Re-extract the template and merge it into every language, keeping the translations."""
    template = extract(template_file)
    for path in catalog_files(locale_dir):
        catalog = _read(path, locale=path.parent.parent.name)
        catalog.update(template)  # fuzzy matching offers translators the old text of edited msgids
        changed = _write_if_changed(path, catalog)
        print(f"{path}: {'updated' if changed else 'unchanged'}")


def compile_catalogs(locale_dir: Path = LOCALE_DIR, output_dir: Path | None = None) -> list[Path]:
    """Compile every ``.po`` to ``.mo`` (into ``output_dir`` with the same layout, if given).

    Untranslated and fuzzy messages are left out of the ``.mo``, so gettext falls back to the
    msgid: an English catalog with empty msgstrs compiles to a header-only, valid ``.mo``.
    A catalog whose translations would break string formatting is not written.
    """
    written: list[Path] = []
    failed: list[str] = []
    for po_path in catalog_files(locale_dir):
        language = po_path.parent.parent.name
        catalog = _read(po_path, locale=language)
        errors = [
            f"{po_path}:{message.lineno}: {message.id!r}: {error}"
            for message, message_errors in catalog.check()
            for error in message_errors
        ]
        if errors:
            failed.extend(errors)
            continue
        messages = [message for message in catalog if message.id]
        translated = sum(1 for message in messages if message.string and not message.fuzzy)
        percentage = translated * 100 // len(messages) if messages else 100
        mo_path = po_path.with_suffix(".mo")
        if output_dir is not None:
            mo_path = output_dir / mo_path.relative_to(locale_dir)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with mo_path.open("wb") as fileobj:
            write_mo(fileobj, catalog, use_fuzzy=False)
        print(f"{mo_path}: {translated} of {len(messages)} messages ({percentage}%) translated")
        written.append(mo_path)
    if failed:
        raise ValueError("catalogs with errors were not compiled:\n" + "\n".join(failed))
    return written


def _describe(keys: Iterable[MessageKey]) -> list[str]:
    def text(key: MessageKey) -> str:
        context, msgid = key
        shown = " / ".join(msgid) if isinstance(msgid, tuple) else msgid
        return f"{shown!r}" + (f" (context {context!r})" if context else "")

    return sorted(text(key) for key in keys)


def find_missing(template_file: Path = TEMPLATE_FILE, locale_dir: Path = LOCALE_DIR) -> dict[str, list[str]]:
    """Messages the sources use but the committed template or a language's catalog lacks, by file."""
    problems: dict[str, list[str]] = {}
    if not template_file.is_file():
        return {str(template_file): ["the file is missing"]}
    template_keys = message_keys(_read(template_file))
    missing = message_keys(extract_catalog()) - template_keys
    if missing:
        problems[str(template_file)] = _describe(missing)
    for path in catalog_files(locale_dir):
        missing = template_keys - message_keys(_read(path, locale=path.parent.parent.name))
        if missing:
            problems[str(path)] = _describe(missing)
    return problems


def check() -> int:
    """Exit status 1, with the list, when ``update`` has not been run since the strings changed."""
    problems = find_missing()
    if not problems:
        print("translation catalogs are up to date")
        return 0
    for path, messages in problems.items():
        print(f"{path} lacks:", file=sys.stderr)
        for message in messages:
            print(f"  {message}", file=sys.stderr)
    print("run: python -m nsupdate_pyramid.scripts.catalogs update", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nsupdate_pyramid.scripts.catalogs",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract", help="write the .pot template from the sources")
    commands.add_parser("update", help="extract, then merge the template into every .po")
    init_parser = commands.add_parser("init", help="start the catalog of a new language")
    init_parser.add_argument("language", help="a locale code like de or pt_BR")
    commands.add_parser("compile", help="build the .mo files")
    commands.add_parser("check", help="fail when the catalogs lag behind the sources")
    args = parser.parse_args(argv)
    try:
        if args.command == "extract":
            extract()
        elif args.command == "update":
            update()
        elif args.command == "init":
            init(args.language)
        elif args.command == "compile":
            compile_catalogs()
        else:
            return check()
    except (OSError, ValueError, UnknownLocaleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

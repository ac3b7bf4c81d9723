"""Every text people read has a zh-CN translation: the catalogues are complete, their
placeholders match, and the duty console holds no English outside the catalogue."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from station.i18n import Language, catalogue, po_path, translations
from station.i18n.extract import read_page

REPO = Path(__file__).resolve().parents[2]
CONSOLE = REPO / "station" / "duty" / "static" / "console.html"
# (extraction config, the zh-CN catalogue it must match)
CATALOGUES = {
    "station": (
        REPO / "babel.toml",
        po_path(Language.ZH_CN),
    ),
    "dashboard": (
        REPO / "dashboard" / "babel.toml",
        REPO / "dashboard" / "locale" / "zh_CN" / "LC_MESSAGES" / "dashboard.po",
    ),
}
# Literals of the console's script that nobody reads: headers, CSS classes, the zone id.
NOT_SHOWN = {
    "use strict",
    "Asia/Shanghai",
    "Authorization",
    "Bearer ",
    "Content-Type",
    "Last-Event-ID",
    "alert  ",
    "chip sev ",
    "chip ",
    "chip esc",
    "chip verdict",
}
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`')
_COMMENT = re.compile(r"(?m)^\s*//.*$|\s//\s.*$")


def _extract(config: Path, tmp_path: Path) -> Catalog:
    pot = tmp_path / f"{config.parent.name}.pot"
    command = ["pybabel", "-q", "extract", "-F", str(config), "-o", str(pot), str(REPO)]
    CommandLineInterface().run(command)  # type: ignore[no-untyped-call]  # Babel is untyped
    with pot.open("rb") as source:
        return read_po(source)


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_extracted_message_has_a_zh_cn_translation(name: str, tmp_path: Path) -> None:
    config, po = CATALOGUES[name]
    extracted = _extract(config, tmp_path)
    with po.open("rb") as source:
        zh = read_po(source, locale="zh_CN")
    ids = [str(m.id) for m in extracted if m.id]
    assert len(ids) > 20  # the extraction found the texts, not nothing
    missing = [i for i in ids if not getattr(zh.get(i), "string", "")]
    assert missing == [], f"{name}: no zh-CN text for {missing}"
    for msgid in ids:
        translated = zh.get(msgid)
        assert translated is not None
        assert not translated.fuzzy, f"{name}: fuzzy translation of {msgid!r}"
        assert _fields(str(translated.string)) == _fields(msgid), f"{name}: fields of {msgid!r}"


def test_the_console_page_holds_no_english_outside_the_catalogue() -> None:
    page = read_page(CONSOLE.read_text())
    assert [text for _, text in page.untranslated if text != "English"] == []
    known = catalogue(Language.ZH_CN)
    assert [text for _, text in page.texts if text not in known] == []
    shown = []
    for _, script in page.scripts:
        code = _COMMENT.sub("", script)
        for match in _LITERAL.finditer(code):
            before = code[: match.start()].rstrip()
            if before.endswith(("_(", "N_(")):
                continue
            text = re.sub(r"\$\{[^}]*\}", "", match.group()[1:-1])
            prose = re.search(r"[A-Za-z]{2,}", text) and (
                " " in text or re.match(r"[A-Z][a-z]", text)
            )
            if prose and text not in NOT_SHOWN:
                shown.append(match.group())
    assert shown == [], "console literals outside _(): wrap them, or list them in NOT_SHOWN"


def test_english_is_the_message_id_and_unknown_codes_read_chinese() -> None:
    assert translations("en").gettext("fall") == "fall"
    assert translations("zh-CN").gettext("fall") == "跌倒"
    assert translations("zh_CN").gettext("Sign in") == "登录"
    assert translations("fr").gettext("Sign in") == "登录"  # the product's default


# Streamlit calls whose text arguments people read.
_SHOWN_BY = {
    "title", "subheader", "header", "caption", "markdown", "write", "info", "warning", "error",
    "success", "metric", "button", "form_submit_button", "download_button", "text_input",
    "number_input", "selectbox", "multiselect", "slider", "checkbox", "date_input",
    "set_page_config", "image",
}  # fmt: skip
_SHOWN_AS = {"label", "help", "placeholder", "caption", "page_title", "title"}


def _english_literals(call: ast.Call) -> list[str]:
    """Literal text with English words among the arguments a person reads."""
    texts = [*call.args[:1], *(k.value for k in call.keywords if k.arg in _SHOWN_AS)]
    parts = [p for n in texts for p in (n.values if isinstance(n, ast.JoinedStr) else [n])]
    return [
        p.value
        for p in parts
        if isinstance(p, ast.Constant)
        and isinstance(p.value, str)
        and re.search(r"[A-Za-z]{2,}", p.value)
    ]


def test_the_dashboard_shows_no_literal_english() -> None:
    untranslated = []
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                logging = isinstance(receiver, ast.Name) and receiver.id == "logger"
                if node.func.attr in _SHOWN_BY and not logging:
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    untranslated += [f"{where} {text!r}" for text in _english_literals(node)]
    assert untranslated == [], "wrap these in _()"


def _cli_literals(node: ast.Call) -> list[str]:
    """English literals a person reads from the command line: help texts, errors, notes."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    parser = name in {"ArgumentParser", "add_parser"}  # their description is help too
    shown: list[ast.expr] = [
        k.value for k in node.keywords if k.arg == "help" or (parser and k.arg == "description")
    ]
    if isinstance(func, ast.Attribute) and func.attr in {"error", "warning", "info"}:
        shown += node.args[:1]
    if isinstance(func, ast.Name) and func.id.endswith("Error"):
        shown += node.args[:1]
    return [
        text.value
        for text in shown
        if isinstance(text, ast.Constant)
        and isinstance(text.value, str)
        and re.search(r"[A-Za-z]{2,}", text.value)
    ]


def test_the_command_line_shows_no_literal_english() -> None:
    untranslated = []
    for path in sorted((REPO / "station" / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                untranslated += [f"{where} {text!r}" for text in _cli_literals(node)]
    assert untranslated == [], "wrap these in _()"

"""The printable member card: a PNG at credit-card size (85.6 x 54 mm at 300 dpi) with the
card's QR code and its text in Chinese."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from station.duty.errors import DutyError

CARD_SIZE = (1011, 638)
_MARGIN = 36


class CardFontError(DutyError, RuntimeError):
    """The configured card font is missing or unreadable (a set-up fault)."""

    status_code = 503


@dataclass(frozen=True)
class CardFace:
    """What is printed on a card besides its code."""

    card_id: str
    station_name: str
    issued_on: str


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if not Path(path).is_file():
        raise CardFontError(f"card font {path!r} not found; install fonts-wqy-microhei")
    try:
        return ImageFont.truetype(path, size)
    except OSError as err:
        raise CardFontError(f"card font {path!r} is unreadable") from err


def _qr(token: str, side: int) -> Image.Image:
    buffer = io.BytesIO()
    code = segno.make_qr(token, error="m")
    scale = max(1, side // (code.symbol_size(border=4)[0]))
    code.save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def _fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """Cut a long line (a long station name) to the card's width, ending in an ellipsis."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def render_card(token: str, face: CardFace, font_path: str) -> bytes:
    """Return the card as PNG bytes: QR code on the left, Chinese text on the right."""
    title, body, small = (_font(font_path, size) for size in (44, 32, 24))
    card = Image.new("L", CARD_SIZE, 255)
    qr = _qr(token, CARD_SIZE[1] - 2 * _MARGIN)
    card.paste(qr, (_MARGIN, (CARD_SIZE[1] - qr.height) // 2))
    draw = ImageDraw.Draw(card)
    x = _MARGIN * 2 + qr.width
    lines = [
        ("工友驿站 入站卡", title, 60),
        (_fit(f"站点：{face.station_name}", body, CARD_SIZE[0] - x - _MARGIN), body, 170),
        (f"卡号：{face.card_id}", body, 220),
        (f"发卡日期：{face.issued_on}", body, 270),
        ("进门时将二维码对准门口摄像头", small, 400),
        ("本卡仅限本人使用，请勿借给他人", small, 440),
        ("遗失请尽快联系站点管理员挂失", small, 480),
    ]
    for text, font, y in lines:
        draw.text((x, y), text, font=font, fill=0)
    out = io.BytesIO()
    card.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()

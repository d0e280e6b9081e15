"""Posters for demo events and the colours of the no-cover placeholder.

`poster_jpeg()` draws a 16:9 JPEG with Pillow: the title, the local date and time,
the venue and simple geometric art for the category (rings for concerts, a curtain
for theatre, a pitch for sports, frames for exhibitions, a network for
conferences, balloons for families) in the category's colours. Chinese text needs
a CJK font (Debian's fonts-wqy-microhei); without one the poster keeps only the
Latin text, in Pillow's own font, rather than drawing empty boxes.
"""

import math
import random
import re
import zlib
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

SIZE = (1200, 675)  # the cards' 16:9
CJK_FONT_PATHS = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
]

# Category slug (leaf or root) → the art drawn for it.
KINDS = {
    "concert": "concert", "livehouse": "concert", "classical": "classical",
    "show": "theatre", "drama": "theatre", "musical": "theatre", "dance": "theatre", "comedy": "theatre",
    "kids-theatre": "theatre",
    "sport": "sports", "football": "sports", "basketball": "sports", "tennis": "sports", "marathon": "sports",
    "esports": "sports",
    "exhibition": "exhibition", "art": "exhibition", "tech-expo": "exhibition", "anime": "exhibition",
    "conference": "conference", "tech-summit": "conference", "forum": "conference", "talk": "conference",
    "family": "family", "family-fun": "family",
}
# Per kind, a few (dark, light) gradient pairs; text is white on them.
PALETTES = {
    "concert": [("#3b0a57", "#c2185b"), ("#1a1446", "#7b1fa2"), ("#2d0b3a", "#e65100")],
    "classical": [("#1b2a41", "#8d6e63"), ("#102027", "#5d4037"), ("#263238", "#6d4c41")],
    "theatre": [("#4a0d0d", "#b71c1c"), ("#3e1e04", "#a0522d"), ("#311b2e", "#ad1457")],
    "sports": [("#0b3d20", "#2e7d32"), ("#0d2b52", "#1565c0"), ("#3a1c00", "#ef6c00")],
    "exhibition": [("#1c2541", "#3a506b"), ("#2b2d42", "#8d5a97"), ("#14213d", "#00796b")],
    "conference": [("#0a1f44", "#0277bd"), ("#102a43", "#00838f"), ("#1a237e", "#3949ab")],
    "family": [("#4a2a00", "#f57c00"), ("#1b4332", "#43a047"), ("#3c1053", "#ec407a")],
}
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def kind_of(slug: str) -> str:
    return KINDS.get(slug, "exhibition")


def category_colours(slug: str) -> tuple[str, str]:
    """The (dark, light) colours of a category: its kind's palette, one pair per slug.
    A category the demo does not know gets a hue of its own from its slug."""
    digest = zlib.crc32(slug.encode())
    if slug in KINDS:
        palette = PALETTES[KINDS[slug]]
        return palette[digest % len(palette)]
    hue = digest % 360
    return _hsl(hue, 0.55, 0.18), _hsl((hue + 40) % 360, 0.6, 0.42)


def _hsl(hue: float, saturation: float, lightness: float) -> str:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@lru_cache(maxsize=32)
def font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """A font of `size` px and whether it draws Chinese."""
    for path in CJK_FONT_PATHS:
        if Path(path).is_file():
            try:
                return ImageFont.truetype(path, size), True
            except OSError:
                continue
    return ImageFont.load_default(size), False


def latin_only(text: str) -> str:
    """The text without its Chinese characters and punctuation, for a font that lacks them."""
    return re.sub(r"\s+", " ", _CJK.sub(" ", text)).strip(" ·-|")


def _text(text: str, size: int) -> tuple[str, object]:
    face, cjk = font(size)
    return (text if cjk else latin_only(text)), face


def _wrap(draw: ImageDraw.ImageDraw, text: str, face, width: int) -> list[str]:
    """Lines no wider than `width`: Latin words kept whole, Chinese broken between characters."""
    tokens = re.findall(r"[A-Za-z0-9'’&.:!?\-]+\s*|\s+|.", text)
    lines, line = [], ""
    for token in tokens:
        if line and draw.textlength(line + token.rstrip(), font=face) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _gradient(dark: str, light: str) -> Image.Image:
    """Dark on the left (under the text), light to the upper right."""
    (dr, dg, db), (lr, lg, lb) = _rgb(dark), _rgb(light)
    middle = ((dr + lr) // 2, (dg + lg) // 2, (db + lb) // 2)
    corners = Image.new("RGB", (2, 2))
    corners.putdata([middle, (lr, lg, lb), (dr, dg, db), middle])
    return corners.resize(SIZE, Image.Resampling.BILINEAR)


def _art(draw: ImageDraw.ImageDraw, kind: str, rng: random.Random, accent: tuple[int, int, int]) -> None:
    """Geometric art on the right of the poster, placed by `rng` so that no two posters are alike."""
    width, height = SIZE
    light = (*accent, 90)
    strong = (255, 255, 255, 70)
    cx, cy = rng.randint(int(width * 0.68), int(width * 0.85)), rng.randint(int(height * 0.25), int(height * 0.6))
    if kind == "concert":
        for r in range(40, 460, rng.choice([36, 44, 52])):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=strong, width=6)
        bars = rng.randint(14, 22)
        for i in range(bars):
            h = rng.randint(30, 220)
            x = width - 40 - (bars - i) * 26
            draw.rounded_rectangle((x, height - 30 - h, x + 16, height - 30), radius=6, fill=light)
    elif kind == "classical":
        top = rng.randint(120, 260)
        for i in range(5):
            y = top + i * 34
            draw.line((width * 0.45, y, width, y), fill=strong, width=4)
        for _ in range(rng.randint(6, 10)):
            x, y = rng.randint(int(width * 0.5), width - 60), top + rng.randint(0, 8) * 17
            draw.ellipse((x, y - 14, x + 36, y + 14), fill=light)
            draw.line((x + 34, y, x + 34, y - 110), fill=strong, width=5)
    elif kind == "theatre":
        folds = rng.randint(5, 8)
        for i in range(folds):
            w = width * 0.09
            x = width - (i + 1) * w
            draw.pieslice((x - w, -height * 0.4, x + w, height * 1.1), 90, 270, fill=(*accent, 40 + i * 12))
        draw.polygon([(cx, -10), (cx - 260, height), (cx + 160, height)], fill=(255, 255, 255, 35))
    elif kind == "sports":
        left = int(width * 0.5)
        draw.rectangle((left, 60, width - 60, height - 60), outline=strong, width=6)
        middle = (left + width - 60) // 2
        draw.line((middle, 60, middle, height - 60), fill=strong, width=6)
        draw.ellipse((middle - 90, height // 2 - 90, middle + 90, height // 2 + 90), outline=strong, width=6)
        r = rng.randint(36, 60)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=light)
    elif kind == "exhibition":
        for _ in range(rng.randint(4, 7)):
            w, h = rng.randint(120, 300), rng.randint(100, 260)
            x, y = rng.randint(int(width * 0.45), width - w - 20), rng.randint(20, height - h - 20)
            draw.rectangle((x, y, x + w, y + h), outline=strong, width=8)
            draw.rectangle((x + 18, y + 18, x + w - 18, y + h - 18), fill=(*accent, rng.randint(40, 110)))
    elif kind == "conference":
        nodes = [(rng.randint(int(width * 0.5), width - 40), rng.randint(40, height - 40)) for _ in range(12)]
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                if math.dist(a, b) < 260:
                    draw.line((*a, *b), fill=strong, width=3)
        for x, y in nodes:
            r = rng.randint(10, 24)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=light)
    else:  # family
        for _ in range(rng.randint(5, 8)):
            x, y, r = rng.randint(int(width * 0.5), width - 80), rng.randint(60, height - 260), rng.randint(40, 70)
            draw.ellipse((x - r, y - int(r * 1.2), x + r, y + int(r * 1.2)), fill=(*accent, rng.randint(90, 160)))
            draw.line((x, y + int(r * 1.2), x + rng.randint(-30, 30), height), fill=strong, width=3)


def poster_jpeg(*, title: str, category_slug: str, category_name: str, category_name_en: str,
                start_time: datetime, venue: str, city: str, seed: int) -> bytes:
    """A JPEG poster; the same arguments draw the same bytes, another seed other art."""
    rng = random.Random(seed)
    kind = kind_of(category_slug)
    dark, light = rng.choice(PALETTES[kind])
    image = _gradient(dark, light)
    draw = ImageDraw.Draw(image, "RGBA")  # RGBA fills blend into the picture
    _art(draw, kind, rng, _rgb(light))
    width, height = SIZE
    margin, text_width = 64, int(width * 0.58)

    label, face = _text(f"{category_name} · {category_name_en.upper()}", 30)
    label = label or category_name_en.upper()
    box = draw.textbbox((margin, margin), label, font=face)
    draw.rounded_rectangle((box[0] - 16, box[1] - 10, box[2] + 16, box[3] + 10), radius=22, fill=(255, 255, 255, 230))
    draw.text((margin, margin), label, font=face, fill=_rgb(dark))

    shown_title = title if font(10)[1] else latin_only(title)
    if not re.search(r"\w", shown_title) or shown_title.isdigit():  # nothing but a year was Latin
        shown_title = f"{category_name_en} {shown_title}".strip()
    for size in (78, 68, 58, 50, 44):
        face = font(size)[0]
        lines = _wrap(draw, shown_title, face, text_width)
        if len(lines) == 1 or (len(lines) <= 3 and len(lines[-1]) > 2):  # no lone character on a line
            break
    lines = lines[:3]
    y = margin + 90
    for line in lines:
        draw.text((margin + 3, y + 3), line, font=face, fill=(0, 0, 0, 110))
        draw.text((margin, y), line, font=face, fill=(255, 255, 255))
        y += int(size * 1.25)

    local = timezone.localtime(start_time, timezone.get_default_timezone())
    when, face = _text(local.strftime("%Y.%m.%d  %H:%M"), 44)
    draw.text((margin, height - margin - 118), when, font=face, fill=(255, 255, 255))
    where, face = _text(f"{venue} · {city}", 32)
    if where:
        draw.text((margin, height - margin - 48), where, font=face, fill=(255, 255, 255, 220))

    out = BytesIO()
    image.save(out, "JPEG", quality=84, optimize=True, progressive=True)
    return out.getvalue()

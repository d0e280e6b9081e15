"""Seat map layouts: the description a publisher writes, checked, and the seats it makes.

A layout is JSON data:

    {"stage": "舞台",
     "sections": [{"name": "A", "ticket_type": 3, "rows": 5, "seats": 20,
                   "first_row": "A", "aisles": [5, 15], "row_types": {"A": 4, "B": 4}}]}

- sections are drawn one under the other, centred, below the stage;
- rows are labelled from `first_row` on ("A", "B" … or "1", "2" …);
- `aisles` are seat numbers after which a one-seat gap runs down the section;
- `ticket_type` is what the section sells; `row_types` overrides it per row.

`layout_clean()` turns input into a valid layout or raises ValidationError with
messages a publisher can act on; `layout_seats()` lists the seats with their
drawing positions; `layout_svg()` draws a preview (the buyer's map is drawn by
the browser from the same positions).
"""

from dataclasses import dataclass
from string import ascii_uppercase

from django.core.exceptions import ValidationError
from django.utils.html import escape
from django.utils.translation import gettext as _

PITCH = 24  # px between seat centres
SEAT = 18  # px seat size
MARGIN = 24
STAGE_HEIGHT = 40
SECTION_GAP = 36  # px between sections (room for the section label)
MAX_SEATS = 5000
MAX_ROWS = 60
MAX_PER_ROW = 80


@dataclass(frozen=True)
class SeatSpec:
    section: str
    row: str
    number: int
    ticket_type: int
    x: int
    y: int


def row_labels(first: str, count: int) -> list[str]:
    """Consecutive row labels from `first`: "A" → A, B, … Z, AA, AB …; "3" → 3, 4, 5 …"""
    if first.isdigit():
        return [str(int(first) + i) for i in range(count)]
    start = 0
    for ch in first.upper():
        start = start * 26 + ascii_uppercase.index(ch) + 1
    labels = []
    for n in range(start, start + count):
        label = ""
        while n:
            n, rem = divmod(n - 1, 26)
            label = ascii_uppercase[rem] + label
        labels.append(label)
    return labels


def layout_clean(layout: object, ticket_type_ids: set[int]) -> dict:
    """A normalised copy of `layout`; ValidationError (all problems listed) if it is not usable."""
    errors: list[str] = []
    if not isinstance(layout, dict) or not isinstance(layout.get("sections"), list) or not layout["sections"]:
        raise ValidationError(_("A seat map needs at least one section."))
    sections = []
    names = set()
    total = 0
    for index, raw in enumerate(layout["sections"], start=1):
        if not isinstance(raw, dict):
            errors.append(_("Section %(n)s is not a section.") % {"n": index})
            continue
        name = str(raw.get("name") or "").strip()[:32]
        label = name or str(index)
        if not name:
            errors.append(_("Section %(n)s needs a name.") % {"n": index})
        elif name in names:
            errors.append(_("Two sections are called %(name)s.") % {"name": name})
        names.add(name)
        try:
            rows, seats = int(raw.get("rows")), int(raw.get("seats"))
        except (TypeError, ValueError):
            errors.append(_("Section %(name)s: rows and seats per row must be whole numbers.") % {"name": label})
            continue
        if not 1 <= rows <= MAX_ROWS:
            errors.append(_("Section %(name)s: between 1 and %(max)s rows.") % {"name": label, "max": MAX_ROWS})
        if not 1 <= seats <= MAX_PER_ROW:
            errors.append(_("Section %(name)s: between 1 and %(max)s seats per row.") % {"name": label, "max": MAX_PER_ROW})
        first_row = str(raw.get("first_row") or "A").strip().upper()
        if not (first_row.isdigit() or (first_row.isalpha() and first_row.isascii() and len(first_row) <= 2)):
            errors.append(_("Section %(name)s: the first row is a letter (A) or a number (1).") % {"name": label})
            first_row = "A"
        try:
            aisles = sorted({int(a) for a in raw.get("aisles") or []})
        except (TypeError, ValueError):
            errors.append(_("Section %(name)s: aisles are seat numbers, e.g. 4, 12.") % {"name": label})
            aisles = []
        if any(not 1 <= a < seats for a in aisles):
            errors.append(_("Section %(name)s: an aisle must come after a seat between 1 and %(max)s.")
                          % {"name": label, "max": max(seats - 1, 1)})
        ticket_type = _ticket_type(raw.get("ticket_type"), ticket_type_ids)
        if ticket_type is None:
            errors.append(_("Section %(name)s: choose the ticket type it sells.") % {"name": label})
        labels = row_labels(first_row, max(1, min(rows, MAX_ROWS)))
        row_types = {}
        for row, tt in (raw.get("row_types") or {}).items():
            row = str(row).strip().upper()
            tt_id = _ticket_type(tt, ticket_type_ids)
            if row not in labels:
                errors.append(_("Section %(name)s has no row %(row)s.") % {"name": label, "row": row})
            elif tt_id is None:
                errors.append(_("Section %(name)s row %(row)s: unknown ticket type.") % {"name": label, "row": row})
            else:
                row_types[row] = tt_id
        total += max(rows, 0) * max(seats, 0)
        sections.append({"name": name, "ticket_type": ticket_type, "rows": rows, "seats": seats,
                         "first_row": first_row, "aisles": aisles, "row_types": row_types})
    if total > MAX_SEATS:
        errors.append(_("At most %(max)s seats per map (this one has %(count)s).") % {"max": MAX_SEATS, "count": total})
    if errors:
        raise ValidationError(errors)
    return {"stage": str(layout.get("stage") or "")[:32], "sections": sections}


def _ticket_type(value, ids: set[int]) -> int | None:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if value in ids else None


def layout_size(layout: dict) -> tuple[int, int]:
    width = max(_section_width(s) for s in layout["sections"]) + 2 * MARGIN
    height = MARGIN + STAGE_HEIGHT + sum(SECTION_GAP + s["rows"] * PITCH for s in layout["sections"]) + MARGIN
    return width, height


def _section_width(section: dict) -> int:
    return (section["seats"] + len(section["aisles"])) * PITCH


def layout_seats(layout: dict) -> list[SeatSpec]:
    """Every seat of a cleaned layout with its centre in drawing coordinates."""
    width, _height = layout_size(layout)
    seats = []
    y = MARGIN + STAGE_HEIGHT
    for section in layout["sections"]:
        y += SECTION_GAP
        left = (width - _section_width(section)) // 2
        for r, row in enumerate(row_labels(section["first_row"], section["rows"])):
            ticket_type = section["row_types"].get(row, section["ticket_type"])
            gaps = 0
            for number in range(1, section["seats"] + 1):
                x = left + (number - 1 + gaps) * PITCH + PITCH // 2
                seats.append(SeatSpec(section["name"], row, number, ticket_type, x, y + r * PITCH + PITCH // 2))
                if number in section["aisles"]:
                    gaps += 1
        y += section["rows"] * PITCH
    return seats


def section_labels(layout: dict) -> list[tuple[str, int, int]]:
    """(name, x, y) of each section's label."""
    width, _height = layout_size(layout)
    labels = []
    y = MARGIN + STAGE_HEIGHT
    for section in layout["sections"]:
        labels.append((section["name"], width // 2, y + SECTION_GAP - 10))
        y += SECTION_GAP + section["rows"] * PITCH
    return labels


def layout_svg(layout: dict, colours: dict[int, str]) -> str:
    """A static SVG of a cleaned layout, seats coloured by ticket type (the publisher's preview)."""
    width, height = layout_size(layout)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="seatmap-svg" '
             f'role="img" aria-label="{escape(_("Seat map preview"))}">',
             f'<rect x="{MARGIN}" y="{MARGIN}" width="{width - 2 * MARGIN}" height="{STAGE_HEIGHT - 8}" rx="6" '
             f'class="seatmap-stage"/>',
             f'<text x="{width // 2}" y="{MARGIN + 21}" text-anchor="middle" class="seatmap-stage-label">'
             f'{escape(layout.get("stage") or _("Stage"))}</text>']
    for name, x, y in section_labels(layout):
        parts.append(f'<text x="{x}" y="{y}" text-anchor="middle" class="seatmap-section-label">{escape(name)}</text>')
    half = SEAT // 2
    for seat in layout_seats(layout):
        parts.append(f'<rect x="{seat.x - half}" y="{seat.y - half}" width="{SEAT}" height="{SEAT}" rx="4" '
                     f'fill="{escape(colours.get(seat.ticket_type, "#6c757d"))}">'
                     f'<title>{escape(seat.section)} {escape(seat.row)}-{seat.number}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)

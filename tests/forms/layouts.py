"""Seeded generator of Form 1 variants: one applicant, many layouts, xlsx/docx/PDF.

A layout builds a format-neutral model of boxes on a grid of 8 columns. A renderer draws
the model as an xlsx workbook (openpyxl), a Word table (python-docx) or a ruled PDF
(fpdf2 with the IPA Gothic font from Debian's fonts-ipafont-gothic). Label spellings,
date spellings, phone and postal code spellings, check boxes and offsets are drawn from
a random.Random seeded per applicant, so every run produces the same files.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

FIELD_OPTIONS = ["経営戦略", "営業・販路開拓", "生産管理", "品質管理", "技術開発", "人事・労務", "財務・会計", "海外展開", "IT・DX", "事業承継"]
IPA_GOTHIC = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
COLUMNS = 8
# Column widths of the PDF grid in millimetres (A4 landscape less margins).
PDF_WIDTHS = [40, 30, 30, 35, 35, 35, 36, 36]
ERAS = [("令和", "R", dt.date(2019, 5, 1)), ("平成", "H", dt.date(1989, 1, 8)), ("昭和", "S", dt.date(1926, 12, 25))]

# Spellings of each label; the first is the sample form's.
LABELS = {
    "application_date": ["申請日", "申請年月日", "提出日"],
    "application_type": ["申請区分（新規／更新）", "申請区分", "新規・更新の別"],
    "registration_number": ["登録番号（更新の場合）", "登録番号"],
    "kana": ["ふりがな", "フリガナ"],
    "name": ["氏名", "氏　名", "お名前"],
    "sex": ["性別", "性　別"],
    "birth_date": ["生年月日"],
    "age": ["年齢", "満年齢"],
    "postal_code": ["郵便番号", "〒"],
    "address": ["住所", "現住所", "住　所"],
    "phone": ["電話番号", "電話番号（自宅）", "TEL"],
    "mobile": ["携帯電話", "携帯電話番号"],
    "email": ["メールアドレス", "E-mail", "メール"],
    "employment_status": ["在職・退職の別", "在職／退職"],
    "retirement_date": ["退職（予定）年月日", "退職予定日", "退職日"],
    "last_employer": ["最終勤務先", "勤務先"],
    "position": ["所属・役職", "役職"],
    "fields": ["専門分野\n（該当する□を■に）", "専門分野", "得意分野"],
    "experience_years": ["当該分野の経験年数", "経験年数"],
    "qualifications": ["保有資格", "資格"],
    "pr": ["支援可能な内容・自己PR", "自己PR"],
    "areas": ["活動可能地域", "活動地域"],
    "consent": ["個人情報の取扱いへの同意", "個人情報の取扱いについて"],
}
CAREER_HEADINGS = {"period": ["期間", "在籍期間"], "company": ["会社名", "勤務先名"], "position": ["部署・役職", "所属・役職"], "duties": ["業務内容", "職務内容"]}
CHOICES = {"application_type": ["新規", "更新"], "sex": ["男性", "女性", "回答しない"], "employment_status": ["在職中", "退職済"]}
PAIRS = [("name", "sex"), ("birth_date", "age"), ("phone", "mobile"), ("employment_status", "retirement_date"), ("application_type", "registration_number")]
ORDER = ["application_date", "application_type", "registration_number", "kana", "name", "sex", "birth_date", "age",
         "postal_code", "address", "phone", "mobile", "email", "employment_status", "retirement_date",
         "last_employer", "position", "fields", "experience_years", "qualifications", "pr", "areas", "consent"]


@dataclass
class Box:
    """One box of the model at 0-based (row, col); ``label`` marks a label box."""

    row: int
    col: int
    value: object
    colspan: int = 1
    rowspan: int = 1
    label: bool = False


@dataclass
class Style:
    """The spelling choices of one variant, drawn from the seeded generator."""

    label_choice: dict[str, int] = field(default_factory=dict)
    colon: str = ""
    date: str = "era"
    phone: str = "plain"
    postal: str = "plain"
    checkboxes: bool = True
    fields_in_cells: bool = True
    units: bool = False
    merge: bool = True
    borders: bool = False
    row_offset: int = 0
    col_offset: int = 0
    split_birth_label: bool = False
    ideographic_space: bool = False


@dataclass
class Variant:
    """One rendered form: a name for test ids, its sniffed type and its bytes."""

    name: str
    sniffed_type: str
    payload: bytes


def era_text(day: dt.date, initial: bool = False, fullwidth: bool = False) -> str:
    """Write ``day`` as 昭和35年4月1日 (or S35.4.1 with ``initial``), 元年 for year 1."""
    for name, letter, first in ERAS:
        if day >= first:
            year = day.year - first.year + 1
            if initial:
                text = f"{letter}{year}.{day.month}.{day.day}"
            else:
                text = f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
            return text.translate(_FULLWIDTH) if fullwidth else text
    raise ValueError(f"no era for {day}")


_FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}


def draw_style(rng: random.Random) -> Style:
    """Draw one variant's spellings from ``rng``."""
    return Style(
        label_choice={key: rng.randrange(len(values)) for key, values in LABELS.items()},
        colon=rng.choice(["", "", "：", ":"]),
        date=rng.choice(["era", "initial", "western", "fullwidth", "cell"]),
        phone=rng.choice(["plain", "fullwidth", "digits"]),
        postal=rng.choice(["plain", "mark", "digits", "fullwidth"]),
        checkboxes=rng.random() < 0.5,
        fields_in_cells=rng.random() < 0.5,
        units=rng.random() < 0.5,
        merge=rng.random() < 0.7,
        borders=rng.random() < 0.5,
        row_offset=rng.randint(0, 3),
        col_offset=rng.randint(0, 2),
        split_birth_label=rng.random() < 0.3,
        ideographic_space=rng.random() < 0.5,
    )


def label_text(key: str, style: Style) -> str:
    return LABELS[key][style.label_choice.get(key, 0)] + style.colon


def value_for(applicant: dict, key: str, style: Style, native_dates: bool) -> object:
    """Return how ``style`` writes the applicant's ``key``: text, a number or a date."""
    value = applicant[key]
    if value is None:
        return None

    if key in ("application_date", "birth_date", "retirement_date"):
        day = dt.date.fromisoformat(value)
        if style.date == "cell" and native_dates:
            return day
        return {"era": era_text(day), "initial": era_text(day, initial=True), "western": f"{day.year}/{day.month}/{day.day}",
                "fullwidth": era_text(day, fullwidth=True), "cell": era_text(day)}[style.date]
    if key in CHOICES:
        if not style.checkboxes:
            return value
        return "\u3000".join(("■" if option == value else "□") + option for option in CHOICES[key])

    if key in ("phone", "mobile"):
        return {"plain": value, "fullwidth": value.translate(_FULLWIDTH), "digits": value.replace("-", "")}[style.phone]
    if key == "postal_code":
        return {"plain": value, "mark": "〒" + value, "digits": value.replace("-", ""), "fullwidth": value.translate(_FULLWIDTH)}[style.postal]

    if key == "age":
        return f"{value}歳" if style.units else value
    if key == "experience_years":
        return f"{value}年" if style.units else value
    if key == "consent":
        return "■同意する" if value else "□同意する"
    if key == "fields":
        if not style.checkboxes:
            return "、".join(value)
        return "\u3000".join(("■" if option in value else "□") + option for option in FIELD_OPTIONS)
    if key in ("name", "kana") and style.ideographic_space:
        return value.replace(" ", "\u3000")
    return value


class Model:
    """Boxes on a grid of COLUMNS columns, filled row by row."""

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.row = 0

    def put(self, col: int, value: object, colspan: int = 1, rowspan: int = 1, label: bool = False) -> None:
        self.boxes.append(Box(self.row, col, value, colspan, rowspan, label))

    def next_row(self, count: int = 1) -> None:
        self.row += count


def title_rows(model: Model) -> None:
    model.put(0, "様式１")
    model.put(1, "マネジメントメンター登録申請書", colspan=COLUMNS - 1)
    model.next_row()
    model.put(0, "関東経済産業局長\u3000殿", colspan=4)
    model.next_row()


def career_rows(model: Model, applicant: dict, style: Style, rng: random.Random, with_label: bool) -> None:
    start = model.row
    first = 1 if with_label else 0
    spans = [(first, 2 - first + 1), (3, 1), (4, 2), (6, 2)] if with_label else [(0, 2), (2, 2), (4, 2), (6, 2)]
    if with_label:
        model.put(0, "職歴", rowspan=len(applicant["career"]) + 1, label=True)
    heading = {key: rng.choice(values) for key, values in CAREER_HEADINGS.items()}
    for (col, span), key in zip(spans, CAREER_HEADINGS):
        model.put(col, heading[key], colspan=span, label=True)
    model.next_row()
    for entry in applicant["career"]:
        for (col, span), key in zip(spans, CAREER_HEADINGS):
            model.put(col, entry[key], colspan=span)
        model.next_row()
    assert model.row == start + len(applicant["career"]) + 1


def fields_rows(model: Model, applicant: dict, style: Style) -> None:
    label = label_text("fields", style)
    if not (style.fields_in_cells and style.checkboxes):
        model.put(0, label, label=True)
        model.put(1, value_for(applicant, "fields", style, True), colspan=COLUMNS - 1)
        model.next_row()
        return
    rows = (len(FIELD_OPTIONS) + 2) // 3
    model.put(0, label, rowspan=rows, label=True)
    for index, option in enumerate(FIELD_OPTIONS):
        mark = "■" if option in applicant["fields"] else "□"
        model.boxes.append(Box(model.row + index // 3, 1 + (index % 3) * 2, mark + option, 2))
    model.next_row(rows)


def layout_beside(applicant: dict, style: Style, rng: random.Random, native_dates: bool) -> Model:
    """One label per row in the first column, its value spanning the rest."""
    model = Model()
    title_rows(model)
    for key in ORDER:
        if key == "fields":
            fields_rows(model, applicant, style)
            continue
        if key == "birth_date" and style.split_birth_label:
            model.put(0, "生年", label=True)
            model.put(1, "月日" + style.colon, label=True)
            model.put(2, value_for(applicant, key, style, native_dates), colspan=COLUMNS - 2)
        else:
            model.put(0, label_text(key, style), label=True)
            model.put(1, value_for(applicant, key, style, native_dates), colspan=COLUMNS - 1)
        model.next_row()
        if key == "position":
            model.put(0, "※所属・役職は最終のものを記入してください", colspan=COLUMNS)
            model.next_row()
        if key == "experience_years":
            career_rows(model, applicant, style, rng, with_label=True)
    return model


def layout_pairs(applicant: dict, style: Style, rng: random.Random, native_dates: bool) -> Model:
    """Two label/value pairs on a row where the sample form has them, like the sample xlsx."""
    model = Model()
    title_rows(model)
    model.put(4, label_text("application_date", style), label=True)
    model.put(5, value_for(applicant, "application_date", style, native_dates), colspan=3)
    model.next_row()
    paired = {left: right for left, right in PAIRS}
    done: set[str] = {"application_date"}
    for key in ORDER:
        if key in done:
            continue
        if key == "fields":
            fields_rows(model, applicant, style)
        elif key in paired:
            right = paired[key]
            model.put(0, label_text(key, style), label=True)
            model.put(1, value_for(applicant, key, style, native_dates), colspan=3)
            model.put(4, label_text(right, style), label=True)
            model.put(5, value_for(applicant, right, style, native_dates), colspan=3)
            done.add(right)
            model.next_row()
        else:
            model.put(0, label_text(key, style), label=True)
            model.put(1, value_for(applicant, key, style, native_dates), colspan=COLUMNS - 1)
            model.next_row()
        done.add(key)
        if key == "experience_years":
            career_rows(model, applicant, style, rng, with_label=True)
    return model


def layout_below(applicant: dict, style: Style, rng: random.Random, native_dates: bool) -> Model:
    """Labels on one row and their values on the row below, two fields per row pair."""
    model = Model()
    title_rows(model)
    keys = [key for key in ORDER if key != "fields"]
    for index in range(0, len(keys), 2):
        pair = keys[index:index + 2]
        for position, key in enumerate(pair):
            model.put(position * 4, label_text(key, style), colspan=4, label=True)
        model.next_row()
        for position, key in enumerate(pair):
            model.put(position * 4, value_for(applicant, key, style, native_dates), colspan=4)
        model.next_row()
    model.put(0, label_text("fields", style), colspan=COLUMNS, label=True)
    model.next_row()
    model.put(0, value_for(applicant, "fields", style, native_dates), colspan=COLUMNS)
    model.next_row(2)
    career_rows(model, applicant, style, rng, with_label=False)
    return model


def layout_inline(applicant: dict, style: Style, rng: random.Random, native_dates: bool) -> Model:
    """「氏名：山田 太郎」: each label and its value written in one box."""
    model = Model()
    title_rows(model)
    inline = Style(**{**style.__dict__, "fields_in_cells": False})
    for key in ORDER:
        value = value_for(applicant, key, inline, native_dates=False)
        text = LABELS[key][style.label_choice.get(key, 0)].replace("\n", "")
        model.put(0, f"{text}：{'' if value is None else value}", colspan=COLUMNS)
        model.next_row()
    model.next_row()
    career_rows(model, applicant, style, rng, with_label=False)
    return model


LAYOUTS = {"beside": layout_beside, "pairs": layout_pairs, "below": layout_below, "inline": layout_inline}


def render_xlsx(model: Model, style: Style) -> bytes:
    """Draw the model on one sheet, merged or not, dates as real cells with an era format."""
    import openpyxl
    from openpyxl.styles import Alignment, Border, Side

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "様式１"
    thin = Side(style="thin")
    for box in model.boxes:
        row, col = box.row + 1 + style.row_offset, box.col + 1 + style.col_offset
        cell = sheet.cell(row=row, column=col, value=box.value)
        if isinstance(box.value, dt.date):
            cell.number_format = '[$-411]ggge"年"m"月"d"日";@'
        if isinstance(box.value, str) and "\n" in box.value:
            cell.alignment = Alignment(wrap_text=True)
        if style.merge and (box.colspan > 1 or box.rowspan > 1):
            sheet.merge_cells(start_row=row, start_column=col, end_row=row + box.rowspan - 1,
                              end_column=col + box.colspan - 1)
        if style.borders:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render_docx(model: Model, style: Style) -> bytes:
    """Draw the model as one Word table after a title paragraph; spans become merged cells."""
    import docx

    document = docx.Document()
    document.add_paragraph("様式１")
    rows = max(box.row + box.rowspan for box in model.boxes)
    table = document.add_table(rows=rows, cols=COLUMNS)
    for box in model.boxes:
        if box.row == 0 and box.col == 0:
            continue
        cell = table.cell(box.row, box.col)
        if box.colspan > 1 or box.rowspan > 1:
            cell = cell.merge(table.cell(box.row + box.rowspan - 1, box.col + box.colspan - 1))
        value = box.value
        if isinstance(value, dt.date):
            value = era_text(value)
        cell.text = "" if value is None else str(value)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_docx_paragraphs(model: Model, style: Style) -> bytes:
    """Write each single-box row as a paragraph and the career rows as a table."""
    import docx

    document = docx.Document()
    by_row: dict[int, list[Box]] = {}
    for box in model.boxes:
        by_row.setdefault(box.row, []).append(box)
    career = [row for row, boxes in sorted(by_row.items()) if len(boxes) == 4]
    for row, boxes in sorted(by_row.items()):
        if row not in career:
            document.add_paragraph(" ".join(str(box.value) for box in boxes if box.value is not None))
    table = document.add_table(rows=len(career), cols=4)
    for index, row in enumerate(career):
        for col, box in enumerate(sorted(by_row[row], key=lambda b: b.col)):
            table.cell(index, col).text = "" if box.value is None else str(box.value)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def render_pdf(model: Model, style: Style, ruled: bool = True) -> bytes:
    """Draw the model on A4 landscape with IPA Gothic; ``ruled`` draws every box's border.

    Text is shrunk until it fits its box on one line, because a wrapped line loses the
    space that was typed at the wrap.
    """
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.add_font("IPAGothic", fname=str(IPA_GOTHIC))
    lefts = [10.0]
    for width in PDF_WIDTHS:
        lefts.append(lefts[-1] + width)
    height = 180 / max(box.row + box.rowspan for box in model.boxes)
    for box in model.boxes:
        x, y = lefts[box.col], 12 + box.row * height
        width, box_height = lefts[box.col + box.colspan] - x, height * box.rowspan
        if ruled:
            pdf.rect(x, y, width, box_height)
        value = box.value
        if isinstance(value, dt.date):
            value = era_text(value)
        text = "" if value is None else str(value).replace("\n", "")
        if not text:
            continue
        size = 8.0
        pdf.set_font("IPAGothic", size=size)
        while pdf.get_string_width(text) > width - 2 and size > 3:
            size -= 0.25
            pdf.set_font("IPAGothic", size=size)
        pdf.text(x + 1, y + box_height / 2 + size * 0.35 / 2, text)
    return bytes(pdf.output())


def variants(applicant: dict, seed: int) -> list[Variant]:
    """Render one applicant in every layout and format; the same seed gives the same files."""
    rng = random.Random(seed)
    plans = [
        ("beside", "xlsx"), ("beside", "xlsx"), ("beside", "xlsx"), ("pairs", "xlsx"), ("pairs", "xlsx"),
        ("below", "xlsx"), ("below", "xlsx"), ("inline", "xlsx"),
        ("beside", "docx"), ("beside", "docx"), ("pairs", "docx"), ("pairs", "docx"), ("below", "docx"),
        ("inline", "docx"), ("inline", "docx_paragraphs"),
        ("beside", "pdf"), ("beside", "pdf"), ("pairs", "pdf"), ("pairs", "pdf"), ("below", "pdf"),
        ("inline", "pdf"), ("inline", "pdf_loose"),
    ]
    rendered = []
    for index, (layout, form) in enumerate(plans):
        style = draw_style(rng)
        model = LAYOUTS[layout](applicant, style, rng, native_dates=form == "xlsx")
        if form == "xlsx":
            payload, sniffed = render_xlsx(model, style), "xlsx"
        elif form == "docx":
            payload, sniffed = render_docx(model, style), "docx"
        elif form == "docx_paragraphs":
            payload, sniffed = render_docx_paragraphs(model, style), "docx"
        else:
            payload, sniffed = render_pdf(model, style, ruled=form == "pdf"), "pdf"
        rendered.append(Variant(f"{index:02d}-{layout}-{form}", sniffed, payload))
    return rendered

"""Reads the State Council General Office's yearly holiday notice (国务院办公厅关于某年部分节假日安排的通知)
into a year's holidays and make-up working days, and writes that year into the calendar override file.

The parse refuses rather than guesses: a wrong day in this file moves every deadline around a festival."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from .workcal import WorkCalendar

__all__ = ["Festival", "NoticeError", "NoticeSchedule", "parse_notice", "render_override", "write_override"]

FESTIVALS = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
_WEEKDAYS = "一二三四五六日"
_NUMERALS = "一二三四五六七八九十"

_TITLE = re.compile(r"关于(\d{4})年部分节假日安排的通知")
_ITEM = re.compile(rf"^[{_NUMERALS}]+、(?P<name>[^：:]+)[：:](?P<body>.+)$")
# a date: optional year, optional month (else the month of the date before it), day, optional （…） annotation
_DATE = re.compile(r"(?:(?P<y>\d{4})年)?(?:(?P<m>\d{1,2})月)?(?P<d>\d{1,2})日(?:[（(](?P<note>[^）)]*)[）)])?")
_OFF_TAIL = re.compile(r"^(?:放假调休|放假)(?:，?共?(?P<days>\d+)天)?(?:，(?:不调休|与周末连休))?$")
_SCHEDULE_LIKE = re.compile(r"\d+月\d+日|放假|上班|调休")
_SIGNED = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")


class NoticeError(ValueError):
    """A notice line that cannot be read with certainty; the message names the line."""

    def __init__(self, lineno: int | None, line: str, zh: str, en: str):
        self.lineno, self.line = lineno, line
        where = f"第 {lineno} 行 / line {lineno}: " if lineno else ""
        quoted = f"\n    {line}" if line else ""
        super().__init__(f"{where}{zh} / {en}{quoted}")


@dataclass(frozen=True)
class Festival:
    name: str
    days_off: tuple[date, ...]
    workdays: tuple[date, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoticeSchedule:
    """What a notice says about one year. `holidays` maps every day off (weekend days inside a holiday
    period included, as the override file and the package list them) to its festival."""

    year: int
    holidays: dict[date, str]
    workdays: set[date]
    festivals: list[Festival] = field(default_factory=list)


_FULL_WIDTH = str.maketrans({",": "，", ":": "：", "(": "（", ")": "）", ";": "；"})


def parse_notice(text: str) -> NoticeSchedule:
    """The year, days off and make-up working days of a notice; NoticeError names the first line it cannot
    read. The preamble (up to the paragraph ending 通知如下) states principles, not dates, and is read only
    for the year; after it, every line is a numbered festival item or prose that names no date."""
    lines = [line.strip().replace("\u3000", "").replace(" ", "").translate(_FULL_WIDTH) for line in text.splitlines()]
    years = {(i, int(m.group(1))) for i, line in enumerate(lines, 1) if (m := _TITLE.search(line))}
    if not years:
        raise NoticeError(None, "", "找不到标题“关于某年部分节假日安排的通知”，无法确定年份",
                          "no title 关于YYYY年部分节假日安排的通知 found; cannot tell the year")
    if len({y for _, y in years}) > 1:
        lineno = max(i for i, _ in years)
        raise NoticeError(lineno, lines[lineno - 1], "标题中的年份不一致", "the titles name different years")
    year = next(iter(years))[1]

    preamble_end = next((i for i, line in enumerate(lines, 1) if "通知如下" in line), 0)
    festivals: list[Festival] = []
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for lineno, line in enumerate(lines, 1):
        if not line or lineno <= preamble_end:
            continue
        item = _ITEM.match(line)
        if item is None:
            if _SCHEDULE_LIKE.search(line) and not _SIGNED.match(line):
                raise NoticeError(lineno, line, "这一行提到日期或放假、上班，但不是编号的节日条目，无法理解",
                                  "this line mentions dates or days off/at work but is not a numbered festival item")
            continue  # prose: addressees, preamble, closing paragraph, signature
        festival = _parse_item(year, lineno, line, item.group("name"), item.group("body"))
        for d in festival.days_off:
            if d in holidays or d in workdays:
                raise NoticeError(lineno, line, f"{d.isoformat()} 已在前面的条目中出现",
                                  f"{d.isoformat()} already appears in an earlier item")
            holidays[d] = festival.name
        for d in festival.workdays:
            if d in holidays or d in workdays:
                raise NoticeError(lineno, line, f"{d.isoformat()} 已在前面的条目中出现",
                                  f"{d.isoformat()} already appears in an earlier item")
            workdays[d] = festival.name
        festivals.append(festival)
    if not festivals:
        raise NoticeError(None, "", "通知中没有编号的节日条目（如“一、元旦：…”）",
                          "the notice has no numbered festival items (like 一、元旦：…)")
    return NoticeSchedule(year, holidays, set(workdays), festivals)


def _parse_item(year: int, lineno: int, line: str, name: str, body: str) -> Festival:
    def refuse(zh: str, en: str) -> NoticeError:
        return NoticeError(lineno, line, zh, en)

    parts = name.split("、")
    if not all(p in FESTIVALS for p in parts) or len(set(parts)) != len(parts):
        raise refuse(f"不认识的节日名称“{name}”", f"unknown festival name {name!r}")
    off: list[date] = []
    work: list[date] = []
    notes: list[str] = []
    sentences = [s for s in re.split(r"[。.]", body) if s]
    for sentence in sentences:
        if sentence.startswith("鼓励"):
            notes.append(sentence)  # advice to employers (e.g. to let staff off on 除夕), not a day off
            continue
        dates, rest = _dates(year, sentence, refuse)
        if not dates:
            raise refuse(f"无法理解“{sentence}”", f"cannot read {sentence!r}")
        if rest == "上班":
            if any(sep != "、" for _, sep in dates[1:]):
                raise refuse(f"上班日期应以“、”分隔：“{sentence}”",
                             f"make-up days must be separated by 、: {sentence!r}")
            for d, _ in dates:
                if d.weekday() < 5:
                    raise refuse(f"调休上班日 {d.isoformat()} 不是周六或周日",
                                 f"make-up working day {d.isoformat()} is not a Saturday or Sunday")
                work.append(d)
            continue
        tail = _OFF_TAIL.match(rest)
        if tail is None:
            raise refuse(f"无法理解“{sentence}”", f"cannot read {sentence!r}")
        if len(dates) == 1:
            span = [dates[0][0]]
        elif len(dates) == 2 and dates[1][1] == "至":
            first, last = dates[0][0], dates[1][0]
            if last < first:
                raise refuse(f"放假区间结束早于开始：“{sentence}”", f"the period ends before it starts: {sentence!r}")
            span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        else:
            raise refuse(f"放假日期应为一天或“某日至某日”：“{sentence}”",
                         f"days off must be one day or a range A至B: {sentence!r}")
        if tail.group("days") is not None and int(tail.group("days")) != len(span):
            raise refuse(f"写明共 {tail.group('days')} 天，但日期区间是 {len(span)} 天",
                         f"the text says {tail.group('days')} days but the dates span {len(span)}")
        off.extend(span)
    if not off:
        raise refuse("这一条没有放假日期", "this item gives no days off")
    return Festival(name, tuple(off), tuple(work), tuple(notes))


def _dates(year: int, sentence: str, refuse) -> tuple[list[tuple[date, str]], str]:
    """The dates a sentence starts with, each with the separator before it ('' for the first), and the
    rest of the sentence. A date without a month takes the month of the date before it."""
    out: list[tuple[date, str]] = []
    pos, sep, month = 0, "", None
    while True:
        m = _DATE.match(sentence, pos)
        if m is None:
            break
        y = int(m.group("y")) if m.group("y") else year
        if m.group("m"):
            month = int(m.group("m"))
        if month is None:
            raise refuse(f"日期缺少月份：“{m.group(0)}”", f"a date without a month: {m.group(0)!r}")
        try:
            d = date(y, month, int(m.group("d")))
        except ValueError:
            raise refuse(f"不存在的日期“{m.group(0)}”", f"no such date: {m.group(0)!r}") from None
        if d.year != year:
            raise refuse(f"{d.isoformat()} 不在 {year} 年内；跨年的日期请手工写入上一年",
                         f"{d.isoformat()} is outside {year}; add dates of another year by hand")
        _check_note(d, m.group("note"), refuse)
        out.append((d, sep))
        pos = m.end()
        for candidate in ("至", "、"):
            if sentence.startswith(candidate, pos) and _DATE.match(sentence, pos + len(candidate)):
                sep, pos = candidate, pos + len(candidate)
                break
        else:
            break
    return out, sentence[pos:]


def _check_note(d: date, note: str | None, refuse) -> None:
    if note is None:
        return
    for part in re.split(r"[、，,]", note):
        wd = re.fullmatch(r"(?:周|星期)([一二三四五六日天])", part)
        if wd:
            said = _WEEKDAYS.index(wd.group(1).replace("天", "日"))
            if said != d.weekday():
                raise refuse(f"{d.month}月{d.day}日是周{_WEEKDAYS[d.weekday()]}，不是“{part}”",
                             f"{d.isoformat()} is a {d.strftime('%A')}, not {part}")
        elif not part.startswith("农历"):
            # lunar dates (农历除夕) are not checked; anything else is not understood
            raise refuse(f"无法理解括号中的“{part}”", f"cannot read the annotation {part!r}")


# -- the override file ----------------------------------------------------------------------------


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for d in sorted(days):
        if out and d - out[-1][1] == timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _year_block(schedule: NoticeSchedule) -> list[str]:
    lines = [f"  {schedule.year}:", "    holidays:"]
    for festival in schedule.festivals:
        for first, last in _ranges(list(festival.days_off)):
            text = first.isoformat() if first == last else f'"{first.isoformat()}..{last.isoformat()}"'
            lines.append(f"      - {text:28} # {festival.name}")
    workdays = [(d, f.name) for f in schedule.festivals for d in f.workdays]
    if workdays:
        lines.append("    workdays:")
        lines.extend(f"      - {d.isoformat():28} # {name} 调休上班" for d, name in sorted(workdays))
    else:
        lines.append("    workdays: []")
    return lines


def render_override(existing: str | None, schedule: NoticeSchedule) -> str:
    """The override file with `schedule`'s year added or replaced and every other year kept as it was
    (comments of the kept years are not preserved). Refuses an existing file that does not load."""
    data: Any = yaml.safe_load(existing) if existing and existing.strip() else None
    WorkCalendar.from_dict(data, source="the existing calendar file")
    years = dict((data or {}).get("years") or {})
    lines = [
        "# holidays and make-up working days (调休) per year; a year listed here replaces the",
        "# chinesecalendar package's data for that year (docs/calendar.md)",
        "years:",
    ]
    for year in sorted({int(y) for y in years} | {schedule.year}):
        if year == schedule.year:
            lines.extend(_year_block(schedule))
            continue
        entry = next(v for k, v in years.items() if int(k) == year)
        dumped = yaml.safe_dump({year: entry}, allow_unicode=True, default_flow_style=False, sort_keys=True)
        lines.extend("  " + line for line in dumped.rstrip("\n").splitlines())
    text = "\n".join(lines) + "\n"
    WorkCalendar.from_dict(yaml.safe_load(text), source="the new calendar file")  # never write what won't load
    return text


def write_override(path: str | Path, schedule: NoticeSchedule) -> None:
    """Writes atomically: a service starting meanwhile reads the old file or the new one, never half."""
    path = Path(path)
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = render_override(existing, schedule)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

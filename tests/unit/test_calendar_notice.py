"""The State Council holiday notice parser, the override file it writes, and `xiaoneng calendar`."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from services.kernel import cli
from services.kernel.calendar_notice import NoticeError, parse_notice, render_override, write_override
from services.kernel.workcal import WorkCalendar

DATA = Path(__file__).parent / "data"


def notice(year: int) -> str:
    return (DATA / f"notice_{year}.txt").read_text(encoding="utf-8")


def days_of(year: int):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


def package_exceptions(year: int) -> tuple[set[date], set[date]]:
    """Days the package makes differ from Monday–Friday: weekday holidays, weekend workdays."""
    off = {d for d in days_of(year) if d.weekday() < 5 and chinese_calendar.is_holiday(d)}
    on = {d for d in days_of(year) if d.weekday() >= 5 and chinese_calendar.is_workday(d)}
    return off, on


@pytest.mark.parametrize("year", [2025, 2026])
def test_official_notice_matches_the_package(year):
    schedule = parse_notice(notice(year))
    assert schedule.year == year
    off, on = package_exceptions(year)
    assert {d for d in schedule.holidays if d.weekday() < 5} == off
    assert schedule.workdays == on
    # every day off the notice names is a holiday in the package too, weekends inside a period included
    for d in schedule.holidays:
        is_holiday, name = chinese_calendar.get_holiday_detail(d)
        assert is_holiday and name is not None, d


def test_the_parse_keeps_festivals_and_their_days():
    schedule = parse_notice(notice(2025))
    names = [f.name for f in schedule.festivals]
    assert names == ["元旦", "春节", "清明节", "劳动节", "端午节", "国庆节、中秋节"]
    spring = schedule.festivals[1]
    assert spring.days_off[0] == date(2025, 1, 28) and spring.days_off[-1] == date(2025, 2, 4)
    assert spring.workdays == (date(2025, 1, 26), date(2025, 2, 8))
    assert schedule.holidays[date(2025, 6, 1)] == "端午节"  # a range crossing into June


def test_half_width_punctuation_of_a_reposted_notice_reads_the_same():
    reposted = notice(2026).translate(str.maketrans({"，": ",", "：": ":", "（": "(", "）": ")"}))
    assert parse_notice(reposted) == parse_notice(notice(2026))


def with_line(year: int, old: str, new: str) -> str:
    text = notice(year)
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("4月4日（周五）至6日（周日）放假，共3天。", "4月4日至6日大概放假吧。", "cannot read"),
        ("4月4日（周五）至6日（周日）放假，共3天。", "4月4日（周五）至6日（周日）放假，共4天。", "dates span 3"),
        ("三、清明节：", "三、植树节：", "unknown festival name"),
        ("节假日期间，", "另：12月31日下午放假。节假日期间，", "not a numbered festival item"),
        ("4月27日（周日）上班。", "4月28日（周一）上班。", "not a Saturday or Sunday"),
        ("2月8日（周六）上班。", "2月30日（周六）上班。", "no such date"),
    ],
)
def test_a_line_it_cannot_understand_is_refused(old, new, expected):
    with pytest.raises(NoticeError) as err:
        parse_notice(with_line(2025, old, new))
    message = str(err.value)
    assert expected in message and "行 / line" in message


def test_a_wrong_weekday_is_refused_naming_the_line():
    text = with_line(2025, "1月1日（周三）放假1天", "1月1日（周四）放假1天")
    with pytest.raises(NoticeError) as err:
        parse_notice(text)
    assert err.value.lineno == 7
    assert "周四" in str(err.value) and "Wednesday" in str(err.value)


def test_a_notice_without_its_title_is_refused():
    with pytest.raises(NoticeError, match="cannot tell the year"):
        parse_notice(notice(2025).replace("关于2025年部分节假日安排的通知", "通知"))


def test_import_writes_a_file_the_calendar_loads_and_agrees_with_the_package(tmp_path, capsys):
    path = tmp_path / "calendar.yaml"
    notice_file = tmp_path / "notice.txt"
    notice_file.write_text(notice(2026), encoding="utf-8")
    assert cli.main(["calendar", "import", str(notice_file), "--calendar-file", str(path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "2月15日（周日） 2026-02-15" in out and "上班 at work  10月10日（周六） 2026-10-10" in out
    cal = WorkCalendar.load(path)
    for d in days_of(2026):
        assert cal.is_working_day(d) == chinese_calendar.is_workday(d), d


def test_import_keeps_other_years_and_replaces_its_own(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text("years:\n  2030:\n    holidays: [2030-01-01]\n    workdays: []\n"
                    "  2026:\n    holidays: [2026-03-02]\n", encoding="utf-8")
    write_override(path, parse_notice(notice(2026)))
    cal = WorkCalendar.load(path)
    assert not cal.is_working_day(date(2030, 1, 1)) and cal.is_working_day(date(2030, 1, 2))
    assert cal.is_working_day(date(2026, 3, 2))  # the old 2026 entry is gone
    assert cal.is_working_day(date(2026, 10, 10)) and not cal.is_working_day(date(2026, 10, 7))


def test_import_refuses_an_existing_file_that_does_not_load():
    with pytest.raises(ValueError, match="existing calendar file"):
        render_override("years:\n  2030:\n    holidays: []\n", parse_notice(notice(2026)))


def test_import_without_a_file_path_says_where_to_give_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CALENDAR_FILE", raising=False)
    notice_file = tmp_path / "notice.txt"
    notice_file.write_text(notice(2026), encoding="utf-8")
    assert cli.main(["calendar", "import", str(notice_file), "--yes"]) == 2
    assert "--calendar-file" in capsys.readouterr().err


def test_import_of_a_bad_notice_writes_nothing(tmp_path, capsys):
    path = tmp_path / "calendar.yaml"
    notice_file = tmp_path / "notice.txt"
    notice_file.write_text(with_line(2026, "1月1日（周四）", "1月1日（周五）"), encoding="utf-8")
    assert cli.main(["calendar", "import", str(notice_file), "--calendar-file", str(path), "--yes"]) == 1
    assert "line 5" in capsys.readouterr().err
    assert not path.exists()


def test_check_says_where_a_year_comes_from(tmp_path, monkeypatch, capsys):
    path = tmp_path / "calendar.yaml"
    monkeypatch.setenv("CALENDAR_FILE", str(path))
    path.write_text("", encoding="utf-8")
    assert cli.main(["calendar", "check", "2026"]) == 0
    assert "package" in capsys.readouterr().out
    assert cli.main(["calendar", "check", "2027"]) == 1
    assert "missing" in capsys.readouterr().out

    assert cli.main(["calendar", "import", str(DATA / "notice_2027_synthetic.txt"), "--yes"]) == 0
    capsys.readouterr()
    assert cli.main(["calendar", "check", "2027"]) == 0
    out = capsys.readouterr().out
    assert "override file" in out and "19 holidays, 2 make-up working days" in out
    assert cli.main(["calendar", "check", "2026", "--calendar-file", str(path)]) == 0
    assert "package" in capsys.readouterr().out


@pytest.mark.parametrize("answer, written", [("n", False), ("y", True)])
def test_import_at_a_terminal_asks_first(tmp_path, monkeypatch, answer, written):
    path = tmp_path / "calendar.yaml"
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    code = cli.main(["calendar", "import", str(DATA / "notice_2026.txt"), "--calendar-file", str(path)])
    assert (code == 0) is written and path.exists() is written

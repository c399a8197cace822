"""`xiaoneng`: operations commands of a deployment.

    xiaoneng keys add NAME --role ROLE [--department D]   prints a new API key once
    xiaoneng keys list | revoke NAME
    xiaoneng dlq list [--json] [--reason R]               parked messages of this node's broker, failures first
    xiaoneng dlq replay (--all | EVENT_ID ...) [--reason R]
    xiaoneng events [--markdown]                          the event contracts
    xiaoneng demo [--seed N --appeals N --applications N] a demo year sent to the running services
    xiaoneng calendar import NOTICE.txt [--calendar-file PATH] [--yes]   next year's State Council schedule
    xiaoneng calendar check YEAR [--calendar-file PATH]   is a year known, and from where
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .keys import ROLES, KeyStore


def _amqp_uri(args) -> str:
    return args.amqp_uri or os.environ.get("AMQP_URI") or "amqp://guest:guest@127.0.0.1:5672/"


def _keys_file(args) -> str:
    return args.keys_file or os.environ.get("KEYS_FILE") or "var/keys.yaml"


def cmd_keys(args) -> int:
    store = KeyStore(_keys_file(args))
    if args.action == "add":
        try:
            key = store.add(args.name, args.role, args.department)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(key)
        print(f"# key of {args.name} ({args.role}{', ' + args.department if args.department else ''}); "
              "it is shown only this once", file=sys.stderr)
        return 0
    if args.action == "list":
        for k in store.list():
            print(f"{k.name}\t{k.role}\t{k.department or '-'}\t{k.key_id}")
        return 0
    if args.action == "revoke":
        if store.revoke(args.name):
            print(f"revoked {args.name}")
            return 0
        print(f"error: no key named {args.name}", file=sys.stderr)
        return 1
    return 2


def _reasons(chosen: str | None) -> tuple[str, ...]:
    from .dlq import FAILURES, REASONS

    return {None: REASONS, "failures": FAILURES}.get(chosen, (chosen,))


def cmd_dlq(args) -> int:
    from . import dlq

    uri = _amqp_uri(args)
    reasons = _reasons(args.reason)
    if args.action == "list":
        parked = dlq.list_parked(uri, reasons=reasons)
        if args.json:
            print(json.dumps([p.as_dict() for p in parked], ensure_ascii=False, indent=2))
            return 0
        if not parked:
            print("no parked messages")
            return 0
        failures = sum(1 for p in parked if p.reason in dlq.FAILURES)
        print(f"# {failures} failed or invalid (in {dlq.PARKED_QUEUE}), {len(parked) - failures} unrouted "
              f"(the newest kept, in {dlq.UNROUTED_QUEUE})")
        for p in parked:
            print(f"{p.position:>4}  {p.event_id or '-':36}  {p.event_type or '-':28}  {p.reason:8}  "
                  f"{p.queue or p.exchange + ' ' + p.routing_key}  attempts={p.attempts}  {p.parked_at or ''}")
            if p.cause:
                print(f"      {p.cause[:200]}")
        return 0
    if args.action == "replay":
        if not args.all and not args.event_ids:
            print("error: name event ids, or --all", file=sys.stderr)
            return 2
        done = dlq.replay(uri, event_ids=args.event_ids, replay_all=args.all, reasons=reasons)
        for p in done:
            print(f"replayed {p.event_id or '-'} ({p.event_type or '?'}) → {p.queue or p.exchange}")
        missing = set(args.event_ids or ()) - {p.event_id for p in done}
        for event_id in sorted(missing):
            print(f"error: {event_id} is not parked", file=sys.stderr)
        return 1 if missing else 0
    return 2


def _calendar_file(args) -> str | None:
    return args.calendar_file or os.environ.get("CALENDAR_FILE") or None


def _print_notice(schedule) -> None:
    weekdays = "一二三四五六日"

    def day(d) -> str:
        return f"{d.month}月{d.day}日（周{weekdays[d.weekday()]}） {d.isoformat()}"

    print(f"{schedule.year} 年节假日安排 / holiday schedule of {schedule.year}")
    for festival in schedule.festivals:
        print(f"\n{festival.name}  放假 {len(festival.days_off)} 天 / {len(festival.days_off)} days off")
        for d in festival.days_off:
            print(f"  放假 off      {day(d)}")
        for d in festival.workdays:
            print(f"  上班 at work  {day(d)}")
        for note in festival.notes:
            print(f"  （不计入 / not counted: {note}）")
    print(f"\n共 {len(schedule.holidays)} 天放假、{len(schedule.workdays)} 天调休上班 / "
          f"{len(schedule.holidays)} days off, {len(schedule.workdays)} make-up working days")


def cmd_calendar(args) -> int:
    from .calendar_notice import NoticeError, parse_notice, write_override

    path = _calendar_file(args)
    if args.action == "import":
        if path is None:
            print("error: 未指定日历文件 / no calendar file: give --calendar-file PATH or set CALENDAR_FILE",
                  file=sys.stderr)
            return 2
        try:
            with open(args.notice, encoding="utf-8-sig") as fh:
                text = fh.read()
            schedule = parse_notice(text)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: {args.notice}: {exc}", file=sys.stderr)
            return 2
        except NoticeError as exc:
            print(f"error: {args.notice}: {exc}\n未写入任何内容 / nothing written", file=sys.stderr)
            return 1
        _print_notice(schedule)
        if not args.yes and sys.stdin.isatty():
            answer = input(f"\n写入 {path}？/ write {schedule.year} into {path}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes", "是"):
                print("未写入 / nothing written")
                return 1
        try:
            write_override(path, schedule)
        except (OSError, ValueError) as exc:
            print(f"error: {path}: {exc}\n未写入 / nothing written", file=sys.stderr)
            return 1
        print(f"\n已写入 {path} 的 {schedule.year} 年 / wrote {schedule.year} into {path}; "
              "服务将在 CALENDAR_CHECK_SECONDS（默认 60 秒）内自动载入，无需重启 / "
              "the services pick it up within CALENDAR_CHECK_SECONDS (default 60 s), no restart")
        return 0
    if args.action == "check":
        return _calendar_check(path, args.year)
    return 2


def _calendar_check(path: str | None, year: int) -> int:
    from chinese_calendar import constants

    from .workcal import WorkCalendar

    try:
        cal = WorkCalendar.load(path)
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    # the override schedules are not public on WorkCalendar; read here only to report counts
    override = cal.override(year)
    if override is not None:
        source, holidays, workdays = f"override file {path}", len(override.holidays), len(override.workdays)
    elif year in cal.years_covered():
        source = "package chinesecalendar"
        holidays = sum(1 for d in constants.holidays if d.year == year)
        workdays = sum(1 for d in constants.workdays if d.year == year)
    else:
        print(f"{year}: missing — 尚未载入 / no schedule; import the State Council notice "
              "(xiaoneng calendar import NOTICE.txt)")
        return 1
    print(f"{year}: known from the {source}: {holidays} holidays, {workdays} make-up working days")
    return 0


def cmd_events(args) -> int:
    from .contracts.docs import render_markdown

    sys.stdout.write(render_markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    # eventlet announces its maintenance mode on import; an operator's terminal is not the place.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        # the demo (top-level package `demo`) knows the services' APIs: imported only when asked for
        from demo.cli import main as demo_main

        return demo_main(argv[1:])
    parser = argparse.ArgumentParser(prog="xiaoneng", description="xiaoneng operations")
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="API keys of this deployment")
    keys.add_argument("--keys-file", help="default: $KEYS_FILE or var/keys.yaml")
    ksub = keys.add_subparsers(dest="action", required=True)
    add = ksub.add_parser("add", help="create a key and print it once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--department")
    ksub.add_parser("list")
    rev = ksub.add_parser("revoke")
    rev.add_argument("name")

    dlq = sub.add_parser("dlq", help="parked (dead-lettered) messages")
    dlq.add_argument("--amqp-uri", help="default: $AMQP_URI or the local broker")
    dsub = dlq.add_subparsers(dest="action", required=True)
    reason = {"choices": ("failures", "failed", "invalid", "unrouted"),
              "help": "only these (failures: failed and invalid); default: all, failures first"}
    lst = dsub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--reason", **reason)
    rep = dsub.add_parser("replay")
    rep.add_argument("event_ids", nargs="*")
    rep.add_argument("--all", action="store_true")
    rep.add_argument("--reason", **reason)

    sub.add_parser("events", help="print the event contracts as Markdown")

    cal = sub.add_parser("calendar", help="the working-day calendar's override file (docs/calendar.md)")
    csub = cal.add_subparsers(dest="action", required=True)
    imp = csub.add_parser("import", help="read a State Council holiday notice and write its year into the file")
    imp.add_argument("notice", help="the notice's text (UTF-8), as published")
    imp.add_argument("--yes", action="store_true", help="write without asking")
    chk = csub.add_parser("check", help="is a year known, and from where; exit 1 if not")
    chk.add_argument("year", type=int)
    for p in (imp, chk):
        p.add_argument("--calendar-file", help="default: $CALENDAR_FILE")
    sub.add_parser("demo", help="send a demo year to the running services (xiaoneng demo --help)")

    args = parser.parse_args(argv)
    handler = {"keys": cmd_keys, "dlq": cmd_dlq, "events": cmd_events, "calendar": cmd_calendar}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""notify's use cases, as plain functions of a unit of work (or a session), the settings and the data: planning
the deliveries of a consumed event, the recipients and subscriptions behind the API, a parked delivery sent
again, and the sender's bookkeeping (recording outcomes, parking, digests). The consumers (intake.py), the HTTP
endpoints (service.py) and the sending loop (delivery.Sender) only translate and send."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.kernel.contracts.appeals import CHANNEL_ZH as APPEAL_CHANNEL_ZH
from services.kernel.errors import BadRequest, Conflict, NotFound

from . import store
from .channels import Outcome, accept_addresses, redact
from .destinations import Destinations
from .domain import (
    CHANNEL_ZH,
    DUTY,
    PARKED_EVENT,
    RANK,
    SEVERITIES,
    department_of,
    never_held,
    retry_delay,
    severity_of,
    targets,
)
from .messages import console_link, department_label, render

log = logging.getLogger("services.notify.delivery")

NOT_FOUND_RECIPIENT = "no such recipient"
# organisation fields of a payload, besides `department`, that messages show by the register's name
LABELLED = ("returned_by", "previous_department", "lead_department", "subject_department", "unit",
            "responsible_unit", "town_street", "lead_unit")


# -- events in: planning deliveries ---------------------------------------------------------------------------

def plan(session, settings, *, event_id: str, event_type: str, payload: dict, source_department: str | None,
         now) -> list[dict]:
    """The delivery rows an event causes (one per matching recipient and channel), rendered now."""
    if event_type == "review.recorded" and not payload.get("bad"):
        return []  # a good review (好评) is counted by scoring, not announced to anyone
    severity = severity_of(event_type, payload)
    department = department_of(event_type, payload, source_department)
    subs, people, duty = store.routing(session)
    found = targets(subs, people, duty, event_type, severity, department)
    if not found:
        return []
    link = console_link(settings.console_url, event_type, payload, department)
    # every department a message names, by its name (the code stays in `<field>_code`)
    named = {}
    for key in ("department", *(k for k in LABELLED if k in payload)):
        code = payload.get(key)
        named[key], named[f"{key}_code"] = department_label(settings.department_names, code), code
    # an appeal's category and channel by their Chinese names (the catalogue's, the contracts')
    if "category" in payload:
        named["category"], named["category_code"] = payload.get("category_name") or payload["category"], \
            payload["category"]
    if event_type.startswith("appeal.") and payload.get("channel"):
        named["channel"], named["channel_code"] = APPEAL_CHANNEL_ZH.get(payload["channel"], payload["channel"]), \
            payload["channel"]
    subject, body = render(event_type, {**payload, **named, "severity": severity, "link": link})
    urgent = never_held(event_type, payload)
    rows = []
    for t in found:
        hold_until = settings.quiet.holds(now, severity, t.channel, urgent) if settings.quiet else None
        rows.append(dict(
            event_id=event_id, event_type=event_type, severity=severity, recipient=t.recipient,
            channel=t.channel, address=t.address, department=department, subject=subject, body=body, link=link,
            status="held" if hold_until else "pending", attempts=0, next_attempt_at=hold_until or now,
            created_at=now,
        ))
    return rows


def take_in(uow, settings, event, now) -> int:
    """Plan a consumed event's deliveries in the unit of work that records it as consumed (nothing is sent
    here); how many were planned."""
    rows = plan(uow.session, settings, event_id=event.event_id, event_type=event.event_type, payload=event.payload,
                source_department=event.source_department, now=now)
    store.add_deliveries(uow.session, rows)
    return len(rows)


# -- recipients and subscriptions -----------------------------------------------------------------------------

def accepted_addresses(destinations: Destinations, given: dict, stored: dict | None = None) -> dict:
    """The addresses to store: none pointing into the deployment's network unless allowed, and a redacted one
    only as the stand-in for the stored address it was read from."""
    addresses, errors = accept_addresses(destinations, given, stored)
    if errors:
        raise BadRequest({"addresses": errors})
    return addresses


def find_recipient(session, code: str) -> dict:
    row = store.get_recipient(session, code)
    if row is None:
        raise NotFound(f"{NOT_FOUND_RECIPIENT}: {code}", message_zh="接收人不存在")
    return row


def add_recipient(uow, destinations: Destinations, data: dict, now) -> dict:
    exists = Conflict(f"recipient {data['code']} exists", message_zh="该接收人编码已存在")
    data = {**data, "addresses": accepted_addresses(destinations, data["addresses"])}
    if store.get_recipient(uow.session, data["code"]) is not None:
        raise exists
    store.routing_changed(uow.session)
    try:
        return store.insert_recipient(uow.session, data, now)
    except IntegrityError:  # the same code added at the same moment: the other one won
        raise exists from None


def change_recipient(uow, destinations: Destinations, code: str, changes: dict, now) -> dict:
    row = find_recipient(uow.session, code)
    changes = dict(changes)
    if "addresses" in changes:
        changes["addresses"] = accepted_addresses(destinations, changes["addresses"], row["addresses"] or {})
    merged = {**row, **changes}
    if merged["kind"] == "duty" and not merged.get("department"):
        raise Conflict("a duty contact belongs to a department", message_zh="值班联系人必须属于某个部门")
    if changes:
        store.routing_changed(uow.session)
        store.update_recipient(uow.session, code, changes, now)
    return find_recipient(uow.session, code)


def remove_recipient(uow, code: str) -> None:
    find_recipient(uow.session, code)
    if store.subscriptions_of(uow.session, code):
        raise Conflict(f"recipient {code} still has subscriptions; remove them first",
                       message_zh="该接收人仍有订阅，请先删除订阅")
    store.routing_changed(uow.session)
    store.delete_recipient(uow.session, code)


def add_subscription(uow, data: dict, now) -> dict:
    if data["recipient"] != DUTY:
        person = store.get_recipient(uow.session, data["recipient"])
        if person is None:
            raise BadRequest({"recipient": [f"unknown recipient {data['recipient']!r}; add it first"]})
        if data["channel"] != "log" and not (person["addresses"] or {}).get(data["channel"]):
            raise BadRequest({"channel": [f"recipient {data['recipient']!r} has no {data['channel']} address"]})
    existing = store.find_subscription(uow.session, data)
    if existing is not None:
        raise Conflict(f"the same subscription exists (id {existing['id']})", message_zh="相同的订阅已存在",
                       details={"id": existing["id"]})
    store.routing_changed(uow.session)
    return store.insert_subscription(uow.session, data, now)


def remove_subscription(uow, subscription_id: int) -> None:
    if store.get_subscription(uow.session, subscription_id) is None:
        raise NotFound(f"no subscription {subscription_id}", message_zh="订阅不存在")
    store.routing_changed(uow.session)
    store.delete_subscription(uow.session, subscription_id)


# -- the delivery log -----------------------------------------------------------------------------------------

def find_delivery(session, delivery_id: int) -> dict:
    row = store.get_delivery(session, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}", message_zh="通知记录不存在")
    return row


def retry_delivery(uow, delivery_id: int, now) -> dict:
    """Send a parked delivery again, to its recipient's address as it is now (it may have been corrected)."""
    row = store.get_delivery(uow.session, delivery_id, lock=True)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}", message_zh="通知记录不存在")
    if row["status"] != "parked":
        raise Conflict(f"delivery {delivery_id} is {row['status']}, not parked",
                       message_zh="只有已停止重试的通知可以重新发送")
    person = store.get_recipient(uow.session, row["recipient"])
    if person is not None and row["channel"] != "log":
        address = (person["addresses"] or {}).get(row["channel"]) or row["address"]
        store.set_delivery_address(uow.session, delivery_id, address)
    store.requeue(uow.session, delivery_id, now)
    return store.get_delivery(uow.session, delivery_id)


# -- the sender's bookkeeping ---------------------------------------------------------------------------------

def record_deliveries(uow, settings, results: list[tuple[dict, Outcome]], failing: set, now) -> None:
    """Record the outcomes of sends: sent; a transient failure retried after its delay; else parked, with
    `notify.delivery_parked` and its deliveries. `failing` (channel, address) whose last send failed, kept
    up to date: an address that failed before and answers again has its waiting rows sent now."""
    s = uow.session
    store.mark_sent(s, [row["id"] for row, outcome in results if outcome.ok], now)
    recovered = {(row["channel"], row["address"]) for row, outcome in results if outcome.ok} & failing
    for channel, address in recovered:
        moved = store.pull_forward(s, channel, address, now)
        failing.discard((channel, address))
        if moved:
            log.info("%s %s answers again: %d waiting deliveries sent now", channel, redact(channel, address), moved)
    for row, outcome in results:
        if outcome.ok:
            continue
        attempts = row["attempts"] + 1
        delay = retry_delay(attempts, settings.retry_delays) if outcome.transient else None
        if delay is not None:
            store.mark_retry(s, row["id"], outcome.error, now + timedelta(seconds=delay))
            failing.add((row["channel"], row["address"]))
            log.info("delivery %s to %s/%s failed (%s); retry %d in %.1f s", row["id"], row["recipient"],
                     row["channel"], outcome.error, attempts, delay)
        elif store.mark_parked(s, row["id"], outcome.error, now):
            park(uow, settings, row, outcome, attempts, now)


def park(uow, settings, row: dict, outcome: Outcome, attempts: int, now) -> None:
    """An event for ops tooling, and deliveries to those subscribed to it (not for a failed alert itself: an ops
    channel that is down must not alert about itself forever)."""
    log.error("delivery %s to %s/%s parked after %d attempt(s): %s", row["id"], row["recipient"],
              row["channel"], attempts, outcome.error)
    payload = {"delivery_id": str(row["id"]), "event_id": row["event_id"], "event_type": row["event_type"],
               "recipient": row["recipient"], "channel": row["channel"], "department": row["department"],
               "attempts": attempts, "error": outcome.error or "", "permanent": not outcome.transient,
               "parked_at": now}
    event = uow.publish(PARKED_EVENT, payload, department=row["department"])
    if row["event_type"] == PARKED_EVENT:
        return
    context = {**payload, "failed_subject": row["subject"], "failed_recipient": row["recipient"],
               "failed_channel_zh": CHANNEL_ZH.get(row["channel"], row["channel"]),
               "failed_event_type": row["event_type"], "failed_severity": row["severity"]}
    rows = plan(uow.session, settings, event_id=event["event_id"], event_type=PARKED_EVENT, payload=context,
                source_department=row["department"], now=now)
    store.add_deliveries(uow.session, rows)


def collect_digests(uow, settings, now: datetime) -> None:
    """Held items whose quiet hours ended become one digest delivery per recipient and channel."""
    held = store.due_held(uow.session, now)
    groups: dict[tuple, list[dict]] = {}
    for row in held:
        groups.setdefault((row["recipient"], row["channel"], row["address"]), []).append(row)
    for (recipient, channel, address), items in groups.items():
        severity = max((i["severity"] for i in items), key=RANK.__getitem__, default=SEVERITIES[0])
        link = f"{settings.console_url.rstrip('/')}/console"
        subject, body = render("notify.digest", {"items": items, "quiet": settings.quiet_spec or "—",
                                                 "link": link, "severity": severity})
        digest_id = store.insert_delivery(uow.session, dict(
            event_id=str(uuid.uuid4()), event_type="notify.digest", severity=severity, recipient=recipient,
            channel=channel, address=address, department=None, subject=subject, body=body, link=link,
            status="pending", attempts=0, next_attempt_at=now, created_at=now))
        store.mark_digested(uow.session, [i["id"] for i in items], digest_id)
        log.info("digest %s for %s/%s with %d items", digest_id, recipient, channel, len(items))

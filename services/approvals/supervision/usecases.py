"""The use cases of supervision orders, as plain functions of a unit of work, the settings and the command's
data: order one, and check the orders whose day has passed."""

from __future__ import annotations

import secrets
from datetime import datetime

from .. import handlers
from .. import store as core
from ..rectification import store as rectifications
from . import domain, store

ORDER_BATCH = 200
# exposed orders told to the board per transaction
EXPOSURE_BATCH = 100


def order_supervision(uow, settings, row: dict, data: dict, by: str, now: datetime) -> dict:
    """A monitor orders the department of the application `row` (visible to the caller, locked in `uow`) to act
    by `data["act_by"]`: the order, stored and published as `monitor.supervision_ordered`."""
    domain.require_open(row["state"])
    s = uow.session
    order_id = store.insert_order(s, {
        "application_id": row["id"], "department": row["department"], "act_by": data["act_by"],
        "check_at": domain.check_moment(data["act_by"]), "note": data["note"], "ordered_by": by,
        "ordered_at": now})
    if data.get("exposed"):
        _expose(uow, order_id, now)
    app = handlers.load_application(settings, s, row, now)
    uow.publish("monitor.supervision_ordered", {
        **handlers.event_figures(app, now), "order_id": str(order_id), "act_by": data["act_by"],
        "note": data["note"], "by": by, "ordered_at": now}, department=row["department"])
    return store.get_order(s, order_id)


def check_due_orders(uow, settings, now: datetime, limit: int = ORDER_BATCH) -> int:
    """Claim up to `limit` orders whose day has passed; for each whose application is still open, one `red`
    alert and one `monitor.supervision_overdue` event. Returns how many were checked (the caller runs another
    batch while it is `limit`)."""
    s = uow.session
    checked = []
    items: dict = {}
    for order in store.claim_due_orders(s, now, limit):
        # never wait for a window action holding the application: the next tick takes the order
        row = core.get(s, order["application_id"], lock=True, skip_locked=True)
        if row is None:
            continue
        checked.append(order["id"])
        if not domain.is_overdue(row["state"]):
            continue
        app = handlers.load_application(settings, s, row, now, items)
        rule = domain.overdue_rule(order["id"])
        figures = handlers.event_figures(app, now)
        alert_id = core.raise_alert(s, row["id"], row["department"], domain.OVERDUE_LEVEL, rule, now, {
            "order_id": order["id"], "act_by": order["act_by"].isoformat(), "note": order["note"],
            "ordered_by": order["ordered_by"], "due_at": figures.get("due_at")})
        if alert_id is None:
            continue
        store.set_overdue_alert(s, order["id"], alert_id)
        uow.publish(domain.OVERDUE_EVENT, {
            **figures, "alert_id": str(alert_id), "level": domain.OVERDUE_LEVEL, "rule": rule, "raised_at": now,
            "order_id": str(order["id"]), "act_by": order["act_by"]}, department=row["department"])
    store.mark_checked(s, checked, now)
    return len(checked)


def _expose(uow, order_id: int, now: datetime) -> None:
    """Put the order on the exposure board: an opaque public id (80 random bits: the order's number counts up and
    could be walked), and the board told in the same transaction."""
    store.expose(uow.session, order_id, secrets.token_hex(10), now)
    _publish_exposure(uow, store.get_with_outcome(uow.session, order_id), now)


def expose_order(uow, order_id: int, scope: str | None, now: datetime) -> tuple[bool, dict]:
    """A monitor exposes an order given before (曝光): (True, it) when it went on the board now, (False, it) when it
    was there already (a retry changes nothing). NotFound for an unknown order or one outside `scope`."""
    s = uow.session
    order = store.lock_order(s, order_id, scope)
    created = not order["exposed"]
    if created:
        _expose(uow, order_id, now)
    return created, store.get_order(s, order_id)


def _publish_exposure(uow, order: dict, now: datetime) -> None:
    """Tell the board the order's public view (domain.public_view), one revision on from the last."""
    s = uow.session
    app = core.get(s, order["application_id"])
    item = core.get_item(s, app["item_code"])
    rectification = rectifications.get_for_alert(s, order["overdue_alert_id"]) \
        if order["overdue_alert_id"] is not None else None
    view = domain.public_view(order, app, item["name"] if item else None, rectification, now)
    revision = order["revision"] + 1
    store.mark_published(s, order["id"], view["rectified"], revision)
    uow.publish(domain.EXPOSURE_EVENT, {**view, "revision": revision}, department=order["department"])


def publish_exposures(uow, now: datetime, limit: int = EXPOSURE_BATCH) -> int:
    """Tell the board about up to `limit` exposed orders whose department acted since it was last told (the
    application decided, refused or ended; the overdue card's rectification accepted): each once, with what it did.
    Returns how many (the caller runs another batch while it is `limit`)."""
    orders = store.claim_unpublished(uow.session, limit)
    for order in orders:
        _publish_exposure(uow, order, now)
    return len(orders)

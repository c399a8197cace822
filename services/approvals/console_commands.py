"""Commands of the monitor console (served by notify, `alert.action_requested`): a monitor's acknowledge or
resolve of one of our alerts, carried out by the same use case as `POST /api/v1/alerts/<id>/acknowledge|resolve`
(`handlers.act_on_alert`), so that it changes the alert and publishes `monitor.alert_acknowledged` /
`monitor.alert_resolved` exactly as the HTTP endpoints do; or its accept / send back of the alert's rectification
report (actions `accept_rectification` / `return_rectification`), carried out by rectification/usecases.py's
`review` as `POST /api/v1/alerts/<id>/rectification/accept|return` are. The change and the record that the event
was consumed commit together."""

from __future__ import annotations

import contextlib
import logging

from marshmallow import ValidationError

from services.kernel import clock
from services.kernel.domain import IllegalTransition
from services.kernel.errors import ApiError
from services.kernel.fields import MAX_ID
from services.kernel.messaging import AlreadyProcessed, consume_event

from . import handlers
from .rectification import usecases as rectification
from .rectification.schemas import AcceptIn, ReturnIn
from .schemas import AckIn, ResolveIn

log = logging.getLogger("services.approvals.console_commands")

# who may acknowledge or resolve through the console: as on the HTTP endpoints (an admin passes everywhere)
ACTORS = ("monitor", "admin")
# who may accept or send back a rectification report through the console, and the decision of each action
REVIEWERS = ("monitor", "assessor", "admin")
REVIEWS = {"accept_rectification": "accept", "return_rectification": "return"}


class ConsoleCommands:
    """Mixed into ApprovalsService: consumes `alert.action_requested` from notify (one consumer for every
    action: the kernel's queue consumer cannot yet stop a service whose broker was never reached when it has
    several)."""

    @consume_event("notify", "alert.action_requested")
    def on_console_action(self, event):
        p = event.payload
        if p["owner"] != "approvals":
            return
        try:
            review = REVIEWS.get(p["action"])
            alert_id, note = review_command(p) if review else console_command(p)
            with self.platform.consuming(event) as uow:
                # another node's alert with the same id (the city's console reaches every node) is not ours
                if review:
                    rectification.review(uow, self.settings, alert_id, review, note, p["actor"]["name"],
                                         clock.now(), department=p.get("department"))
                else:
                    handlers.act_on_alert(uow, self.settings, alert_id, p["action"], p["actor"]["name"], note,
                                          clock.now(), department=p.get("department"))
            log.info("console %s of alert %s by %s", p["action"], alert_id, p["actor"]["name"])
            return
        except AlreadyProcessed:
            return
        except (ApiError, IllegalTransition, ValidationError) as exc:
            # a command that cannot be carried out (unknown alert, already resolved, no note) is not retried:
            # the console shows the alert as its owner has it
            reason = getattr(exc, "message", None) or getattr(exc, "messages", None) or str(exc)
            log.warning("console %s of alert %s by %s refused: %s", p["action"], p["alert_id"], p["actor"]["name"],
                        reason, extra={"event_id": event.event_id})
        # refused: recorded as consumed all the same, so that a redelivery is not judged again
        with contextlib.suppress(AlreadyProcessed), self.platform.consuming(event):
            pass


def review_command(p: dict) -> tuple[int, str | None]:
    """The alert and the note of a console review of a rectification report, or why no one can carry it out."""
    actor = p["actor"]
    if actor["role"] not in REVIEWERS:
        raise IllegalTransition(f"role {actor['role']} may not review rectifications", "无权执行此操作")
    alert_id = int(p["alert_id"]) if p["alert_id"].isdigit() else 0
    if not 0 < alert_id <= MAX_ID:
        raise IllegalTransition(f"no alert {p['alert_id']!r}", "告警不存在")
    if REVIEWS[p["action"]] == "return":
        return alert_id, ReturnIn().load({"reason": p["note"]})["reason"]
    return alert_id, AcceptIn().load({"note": p["note"]})["note"]


def console_command(p: dict) -> tuple[int, str | None]:
    """The alert and the note of a console command, or why it cannot be carried out by anyone."""
    actor = p["actor"]
    if actor["role"] not in ACTORS:
        raise IllegalTransition(f"role {actor['role']} may not {p['action']} alerts", "无权执行此操作")
    if p["action"] not in handlers.ALERT_ACTIONS:
        raise IllegalTransition(f"no such alert action {p['action']!r}", "不支持的操作")
    alert_id = int(p["alert_id"]) if p["alert_id"].isdigit() else 0
    if not 0 < alert_id <= MAX_ID:
        raise IllegalTransition(f"no alert {p['alert_id']!r}", "告警不存在")
    schema = ResolveIn if p["action"] == "resolve" else AckIn
    return alert_id, schema().load({"note": p["note"]})["note"]

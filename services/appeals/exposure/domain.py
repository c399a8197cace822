"""What the exposure board shows of a case (pure): its state (整改中 until the case is closed with a reply, then
已整改 with that reply as the rectification), and its text desensitised — whatever the citizen agreed to, since
the exposure is the supervising office's decision and not a publication of the citizen's."""

from __future__ import annotations

import re
from datetime import date, datetime

from services.kernel import clock
from services.kernel.privacy import excerpt, public_text

from ..domain import CLOSED, CONFIDENTIAL_TYPES, MERGED, VOIDED

# what the board tells the public about the case (Chinese: it is the board's text)
RECTIFYING = "整改中"
RECTIFIED = "已整改"
# the problem as the board shows it: at most this many characters (cut after scrubbing, never before: a number
# cut in half would slip past the patterns)
MAX_PROBLEM_CHARS = 200
# never on the board, whatever the supervising office asked: efficiency complaints name officials and their
# complainants (the discipline office's), and an invalid or withdrawn case is counted nowhere
NEVER_SHOWN_TYPES = CONFIDENTIAL_TYPES
NEVER_SHOWN_STATUSES = VOIDED
# the ids the board hands out (handlers.take_in: secrets.token_hex); anything else is not one of ours, and is
# answered as an unknown id without asking the database
PUBLIC_ID = re.compile(r"[0-9A-Za-z_-]{8,32}")


def desensitised(text: str | None, names: list[str | None], addresses: list[str | None]) -> str | None:
    """`text` fit for the board: phone, id, card numbers, e-mail and accounts scrubbed, the case's known names
    masked, its exact addresses cut to the street (services/kernel/privacy.py `public_text`)."""
    for address in addresses or [None]:  # each pass scrubs too (idempotent)
        text = public_text(text, names=names, address=address)
    return text


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clock.TZ).date() if moment is not None else None


# what a case on the board is, for the reader
APPEAL, SUPERVISION = "appeal", "approval_supervision"
KINDS = (APPEAL, SUPERVISION)
KIND_ZH = {APPEAL: "群众诉求", SUPERVISION: "审批督办"}


def entry(row: dict, labels) -> dict:
    """A case as the board shows it, built field by field from a whitelist (store.COLUMNS): the appellant's name
    and the exact address are read only to be masked where the text repeats them. A case merged into its main
    case (合并) takes the main case's state and reply: the matter is rectified there. `labels`: views.Labels."""
    names = [row["appellant_name"]]
    addresses = [row["address"]]
    status, reply, closed_at = row["status"], row["reply"], row["closed_at"]
    if status == MERGED and row["main_status"] is not None:
        status, reply, closed_at = row["main_status"], row["main_reply"], row["main_closed_at"]
        names.append(row["main_appellant_name"])
        addresses.append(row["main_address"])
    rectified = status == CLOSED and bool(reply)
    register = labels.register
    return {
        "public_id": row["public_id"],
        "kind": APPEAL,
        "kind_zh": KIND_ZH[APPEAL],
        "item_name": None,
        "category_name": labels.category(row["category"], row["town_street"]),
        "town_street_name": register.name(row["town_street"]),
        "department_name": register.name(row["department"]),
        "problem": excerpt(desensitised(row["content"], names, addresses), MAX_PROBLEM_CHARS),
        "exposed_at": _day(row["exposed_at"]),
        "act_by": row["supervised_until"],
        "state": RECTIFIED if rectified else RECTIFYING,
        "rectified": rectified,
        "rectification": desensitised(reply, names, addresses) if rectified else None,
        "closed_at": _day(closed_at) if rectified else None,
    }


def supervision_entry(row: dict, labels) -> dict:
    """An exposed supervision order of the approvals service as the board shows it: its snapshot (desensitised by
    approvals, and scrubbed here again: the board never trusts another service's text), the department named."""
    rectified = bool(row["rectified"])
    return {
        "public_id": row["public_id"],
        "kind": SUPERVISION,
        "kind_zh": KIND_ZH[SUPERVISION],
        "item_name": row["item_name"],
        "category_name": None,
        "town_street_name": None,
        "department_name": labels.register.name(row["department"]),
        "problem": excerpt(public_text(row["problem"]), MAX_PROBLEM_CHARS),
        "exposed_at": _day(row["exposed_at"]),
        "act_by": row["act_by"],
        "state": RECTIFIED if rectified else RECTIFYING,
        "rectified": rectified,
        "rectification": public_text(row["rectification"]) if rectified else None,
        "closed_at": row["rectified_on"] if rectified else None,
    }


def entry_of(kind: str, row: dict, labels) -> dict:
    return supervision_entry(row, labels) if kind == SUPERVISION else entry(row, labels)

"""The appeals service (民意直通): one intake for every channel. Walking-skeleton scope: intake and
look-up; dispatch, handling, call-back and supervision follow."""

from sqlalchemy import insert, update

from services.kernel import clock
from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.errors import NotFound
from services.kernel.http import api

from . import store
from .schemas import AppealIn, AppealOut

INTAKE_ROLES = ("operator", "window_system")
READ_ROLES = ("operator", "window_system", "department_handler", "monitor")


def case_no(appeal_id: int, received_at) -> str:
    # Readable on the phone: date of receipt and a running number.
    return f"MY{received_at.astimezone(clock.TZ):%Y%m%d}{appeal_id:06d}"


class AppealsService(base.ServiceBase):
    """民意直通 — appeals from every channel."""

    name = "appeals"
    platform = base.Platform(store.metadata)

    @api("POST", "/api/v1/appeals", roles=INTAKE_ROLES, body=AppealIn, response=AppealOut, status=201,
         summary="take in an appeal (idempotent by channel + external_ref)", tags=("appeals",))
    def create_appeal(self, call):
        data = call.body
        with self.platform.unit_of_work() as uow:
            if data["external_ref"]:
                existing = store.find_by_ref(uow.session, data["channel"], data["external_ref"])
                if existing is not None:
                    return 200, dict(existing)
            now = clock.now()
            received_at = data["received_at"] or now
            appellant = data["appellant"]
            location = data["location"]
            appeal_id = uow.session.execute(insert(store.appeals).values(
                channel=data["channel"], external_ref=data["external_ref"], type=data["type"],
                urgency=data["urgency"], category=data["category"], content=data["content"],
                appellant_name=None if appellant.get("anonymous") else appellant.get("name"),
                appellant_phone=None if appellant.get("anonymous") else appellant.get("phone"),
                address=location.get("address"), town_street=location.get("town_street"),
                status="received", received_at=received_at, created_at=now,
            )).inserted_primary_key[0]
            number = case_no(appeal_id, received_at)
            uow.session.execute(update(store.appeals).where(store.appeals.c.id == appeal_id).values(case_no=number))
            row = dict(store.get(uow.session, appeal_id))
            uow.publish("appeal.received", {
                "appeal_id": str(appeal_id), "case_no": number, "channel": row["channel"], "type": row["type"],
                "urgency": row["urgency"], "category": row["category"], "department": row["department"],
                "town_street": row["town_street"], "received_at": received_at, "due_at": None,
            })
        return row

    @api("GET", "/api/v1/appeals/<int:appeal_id>", roles=READ_ROLES, response=AppealOut,
         summary="one appeal", tags=("appeals",))
    def get_appeal(self, call, appeal_id):
        with self.platform.session() as session:
            row = store.get(session, appeal_id)
        # one answer for "missing" and "another department's", so that neither leaks the other
        not_found = NotFound(f"no appeal {appeal_id}", message_zh="诉求不存在")
        if row is None:
            raise not_found
        call.require_department(row["department"], not_found)
        return dict(row)

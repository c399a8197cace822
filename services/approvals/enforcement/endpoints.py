"""The entrypoints of enforcement inspections (执法检查审核登记): parse, authorise, call one use case, shape the
answer; and the timer that watches the results' due times. Mixed into the approvals service (needs `platform` and
`settings`)."""

from __future__ import annotations

from marshmallow import ValidationError
from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.kernel import clock
from services.kernel.errors import BadRequest, Forbidden
from services.kernel.http import api

from .. import handlers
from . import store, usecases
from .schemas import (
    CERT_NO,
    CertificateIn,
    CertificateOut,
    CertificatePage,
    CertificatesQuery,
    DecisionIn,
    InspectionIn,
    InspectionOut,
    InspectionPage,
    InspectionsQuery,
    ReportIn,
    ReportOut,
    ResultIn,
)
from .settings import EnforcementRulesProvider

CERT_EDITORS = ("admin", "monitor")
READERS = ("monitor", "legal_office", "department_handler", "assessor")
TAGS = ("enforcement",)


def _scope(call) -> str | None:
    """The department a caller is confined to: a department handler's, or a legal office key's with a department
    (that department's legal section); None: city-wide."""
    p = call.principal
    if p is not None and p.role in ("department_handler", "legal_office"):
        return p.department
    return None


class InspectionEndpoints:
    """Enforcement certificates, inspections registered, decided and reported, enterprises' reports."""

    enforcement_rules = EnforcementRulesProvider()

    def _retrying(self, work):
        """`work(uow)` in a unit of work; a race on a unique key (the same registration or report sent twice at
        once) is run again once the other committed, and then answers as a retry."""
        for attempt in (1, 2):
            try:
                with self.platform.unit_of_work() as uow:
                    return work(uow)
            except IntegrityError:
                if attempt == 2:
                    raise

    # -- certificates ------------------------------------------------------------------------------------------

    @api("PUT", "/api/v1/enforcement-certificates/<number>", roles=CERT_EDITORS, body=CertificateIn,
         response=CertificateOut,
         summary="add or change an enforcement certificate (执法证): holder, department, validity, revoked; the "
                 "holder's name is shown here only, never in events or logs", tags=TAGS)
    def put_certificate(self, call, number):
        try:
            CERT_NO(number)
        except ValidationError as exc:
            raise BadRequest({"number": exc.messages}) from None
        with self.platform.unit_of_work() as uow:
            row = usecases.put_certificate(uow, number, call.body, clock.now())
        return usecases.present_certificate(row, self.settings.departments)

    @api("GET", "/api/v1/enforcement-certificates", roles=READERS, query=CertificatesQuery,
         response=CertificatePage, summary="the enforcement certificates, by number (department handlers and "
                                           "departmental legal sections: their department's)", tags=TAGS)
    def list_certificates(self, call):
        query = call.scoped_query(_scope(call))
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = store.list_certificates(s, **query)
        return call.page([usecases.present_certificate(r, self.settings.departments) for r in rows], total)

    # -- inspections -------------------------------------------------------------------------------------------

    @api("POST", "/api/v1/inspections", roles=("department_handler",), body=InspectionIn, response=InspectionOut,
         status=201,
         summary="register a planned inspection of an enterprise (执法检查登记) before it happens: basis, at least two "
                 "inspectors by certificate number, planned day; the department's own; retry-safe by external_ref",
         tags=TAGS, responses={200: "the same registration was stored before",
                               403: "not a department handler of an enforcement department",
                               409: "external_ref names another registration"})
    def register_inspection(self, call):
        department = call.principal.department
        if not self.enforcement_rules.enforces(department):
            raise Forbidden(f"department {department} is not an enforcement department",
                            message_zh="本部门不是行政执法部门")
        now = clock.now()
        created, row = self._retrying(lambda uow: usecases.register(
            uow, self.settings, self.enforcement_rules, department, call.body, call.principal.name, now))
        return (201 if created else 200), self._present(row)

    @api("POST", "/api/v1/inspections/<int:inspection_id>/decide", roles=("legal_office",), body=DecisionIn,
         response=InspectionOut,
         summary="the legal office's (法制机构) approval or refusal of a registered inspection (a departmental legal "
                 "section: its department's only); the same decision again answers with it", tags=TAGS,
         responses={404: "no such inspection, or another department's", 409: "decided otherwise, or reported"})
    def decide_inspection(self, call, inspection_id):
        with self.platform.unit_of_work() as uow:
            _, row = usecases.decide(uow, self.settings, self.enforcement_rules, inspection_id, call.body["approved"],
                                     call.body.get("note"), call.principal.name, clock.now(), scope=_scope(call))
        return self._present(row)

    @api("POST", "/api/v1/inspections/<int:inspection_id>/result", roles=("department_handler",), body=ResultIn,
         response=InspectionOut,
         summary="the department's report of the inspection's result: the day it was carried out, the result, "
                 "findings, the inspectors who went; the same report again answers with it", tags=TAGS,
         responses={404: "no such inspection, or another department's",
                    409: "reported otherwise already, or an unregistered inspection"})
    def report_inspection_result(self, call, inspection_id):
        with self.platform.unit_of_work() as uow:
            _, row = usecases.report_result(uow, self.settings, self.enforcement_rules, inspection_id, call.body,
                                            call.principal.name, clock.now(), scope=_scope(call))
        return self._present(row)

    @api("GET", "/api/v1/inspections", roles=READERS, query=InspectionsQuery, response=InspectionPage,
         summary="inspections, newest first, by department, state, enterprise, planned days (department handlers "
                 "and departmental legal sections: their department's)", tags=TAGS)
    def list_inspections(self, call):
        query = call.scoped_query(_scope(call))
        if query is None:
            return call.page([], 0)
        with self.platform.session() as s:
            rows, total = usecases.list_inspections(s, query)
            items = [usecases.present(s, r, self.settings.departments) for r in rows]
        return call.page(items, total)

    @api("GET", "/api/v1/inspections/<int:inspection_id>", roles=READERS, response=InspectionOut,
         summary="one inspection with its history", tags=TAGS,
         responses={404: "no such inspection, or another department's"})
    def get_inspection(self, call, inspection_id):
        with self.platform.session() as s:
            row = usecases.get(s, inspection_id, _scope(call))
            return usecases.present(s, row, self.settings.departments, with_history=True)

    @api("POST", "/api/v1/inspection-reports", roles=("enterprise_desk",), body=ReportIn, response=ReportOut,
         status=201,
         summary="an enterprise's report, through the enterprise-service desk (企业服务台), of an inspection it "
                 "received: matched to the department's registered inspection around that day, else an "
                 "unregistered inspection (alerted); the same report again answers with the first", tags=TAGS,
         responses={200: "the same report was received before"})
    def report_by_enterprise(self, call):
        now = clock.now()
        created, answer = self._retrying(lambda uow: usecases.enterprise_report(
            uow, self.settings, self.enforcement_rules, call.body, call.principal.name, now))
        return (201 if created else 200), answer

    def _present(self, row: dict) -> dict:
        with self.platform.session() as s:
            return usecases.present(s, row, self.settings.departments, with_history=True)

    @timer(interval=handlers.MONITOR_INTERVAL)
    def check_inspection_results(self):
        self.platform.drain_due(
            store.any_due,
            lambda uow, now: usecases.check_due(uow, self.settings, self.enforcement_rules, now),
            usecases.CHECK_BATCH)

"""The Open311 GeoReport v2 routes, a mixin of the appeals service (it needs the service's `platform` and
`settings`): each parses, calls one use case and answers in the spec's shape."""

from __future__ import annotations

import secrets

from nameko.dependency_providers import Config

from services.kernel import clock

from ..domain import STATUS_ZH
from . import usecases
from .entrypoint import ROUTES, UNKNOWN_PATH, open311, unknown_route
from .format import ATTRIBUTES, V2, appeal_from_form, discovery, notice_of, parse_filters, requests_of, service_of

# Only keys made for Open311 clients may file: such a key sits in a city app or a web server, and one that
# also opened the JSON API (an operator's reads every case in full) would hand out the whole database. An
# open311_client key opens nothing else (kernel/http.py). GET endpoints are public.
SUBMITTERS = ("open311_client",)


class Open311Endpoints:
    """GeoReport v2 on the appeals service (a mixin: needs the service's `platform` and `settings`)."""

    open311_config = Config()

    @open311(*ROUTES["discovery"], xml="discovery")
    def open311_discovery(self, call):
        return discovery(self.open311_config.get("OPEN311") or {}, call.request.host_url.rstrip("/") + V2)

    @open311(*ROUTES["services"], xml="services")
    def open311_services(self, call):
        with self.platform.session() as s:
            rules = usecases.services(s, self.settings)
        return [service_of(rule, self.settings.departments) for rule in rules]

    @open311(*ROUTES["service"], xml="service_definition")
    def open311_service_definition(self, call, service_code):
        with self.platform.session() as s:
            usecases.offered(s, self.settings, service_code)
        return {"service_code": service_code, "attributes": ATTRIBUTES}

    @open311(*ROUTES["create"], xml="service_requests", roles=SUBMITTERS)
    def open311_create_request(self, call):
        body = appeal_from_form(call.body)
        settings, actor, now, token = self.settings, call.actor, clock.now(), secrets.token_urlsafe(16)
        # the intake's group commit: the work may run twice, so it only writes
        appeal = self.platform.grouped(lambda uow: usecases.file_request(uow, settings, body, actor, now, token)).row
        # the case number (for the 12345 hotline) goes to the filer only; the public id is what the facade shows
        notice = notice_of(appeal, settings.departments)
        return [{"service_request_id": appeal["public_id"], "token": token,
                 "service_notice": f"诉求已受理（{STATUS_ZH.get(appeal['status'], appeal['status'])}），"
                                   f"编号 {appeal['case_no']}" + (f"；{notice}" if notice else "")
                                   + ("" if appeal["public"] else "；未公开，可凭编号致电 12345 查询")}]

    @open311(*ROUTES["requests"], xml="service_requests")
    def open311_requests(self, call):
        filters = parse_filters(call.query, clock.now())
        with self.platform.session() as s:
            return requests_of(usecases.find_requests(s, self.settings, filters), self.settings.departments)

    @open311(*ROUTES["request"], xml="service_requests")
    def open311_request(self, call, request_id):
        with self.platform.session() as s:
            return requests_of(usecases.find_request(s, self.settings, request_id), self.settings.departments)

    @open311(*ROUTES["token"], xml="service_requests")
    def open311_token(self, call, token):
        # a token is the filer's: it resolves also while the request is not shown in public
        with self.platform.session() as s:
            return [{"service_request_id": usecases.resolve_token(s, token), "token": token}]

    @open311("*", UNKNOWN_PATH, xml="errors")
    def open311_unknown(self, call, path):
        raise unknown_route(call.request.method, call.request.path)

"""`GET /health` of a running service: 200 with broker and database ok on SQLite and on PostgreSQL, 503
naming the part that is down (broker unreachable from the start, broker or database lost after the start),
and 200 again once it is back."""

import time

import eventlet
import requests
from sqlalchemy.engine import make_url

from services.appeals.service import AppealsService
from services.approvals.service import ApprovalsService
from tests.conftest import RABBIT_API, RABBIT_USER, free_port, wait_for


def health(cfg: dict) -> tuple[int, dict]:
    r = requests.get(f"{cfg['base_url']}/health", timeout=10)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["X-Request-Id"]
    return r.status_code, r.json()


def health_once(cfg: dict, status: int, what: str) -> dict:
    """The body of the first /health answer with `status` (the broker status is cached for a second)."""

    def answered():
        got, body = health(cfg)
        return body if got == status else None

    return wait_for(answered, timeout=10, message=what)


def assert_healthy(status: int, body: dict, service: str, backend: str) -> None:
    assert status == 200, body
    assert body["service"] == service and body["status"] == "ok", body
    assert body["broker"] == {"ok": True, "detail": "ok"}, body
    assert body["database"] == {"ok": True, "detail": "ok", "backend": backend}, body
    assert body["outbox"] == {"pending": 0}, body


def test_healthy_on_sqlite(service_config, start_service):
    cfg = service_config("appeals")
    start_service(AppealsService, cfg)
    assert_healthy(*health(cfg), "appeals", "sqlite")
    # public: no key is needed, and a key does no harm
    r = requests.get(f"{cfg['base_url']}/health", headers={"Authorization": "Bearer nonsense"}, timeout=10)
    assert r.status_code == 200


def test_healthy_on_postgresql(start_on_postgres):
    cfg = start_on_postgres(ApprovalsService)
    assert_healthy(*health(cfg), "approvals", "postgresql")


def test_unavailable_while_the_broker_is_unreachable(service_config, container_factory):
    # Nothing listens on this port. The service consumes events, so its start cannot complete without a broker
    # (it waits, or fails); its HTTP side is up meanwhile and must say why it is not ready.
    cfg = service_config("approvals", AMQP_URI=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    container = container_factory(ApprovalsService, cfg)
    starting = eventlet.spawn(container.start)

    def answered():
        try:
            return health(cfg)
        except requests.ConnectionError:
            return None

    try:
        wait_for(answered, timeout=10, message="the HTTP side to answer while the broker is down")
        started = time.monotonic()
        status, body = health(cfg)
        assert time.monotonic() - started < 1, "a health check must answer at once while the broker is down"
        assert status == 503, body
        assert body["status"] == "unavailable"
        assert body["broker"]["ok"] is False and body["broker"]["detail"].startswith("unreachable"), body
        assert body["database"]["ok"] is True, body
        assert "guest:guest" not in str(body), "the broker's credentials must not leak into /health"
        # the rest of the service still answers
        assert requests.get(f"{cfg['base_url']}/api/openapi.json", timeout=10).status_code == 200
    finally:
        # stop, not the fixture's kill: nameko's kill waits for a consumer loop that never reached the broker,
        # for ever; its stop ends that loop
        container.stop()
        starting.kill()


def test_unavailable_when_the_broker_goes_away_and_back_when_it_returns(
        service_config, start_service, rabbit_admin, fresh_vhost):
    cfg = service_config("approvals", AMQP_URI=rabbit_admin.amqp_uri(fresh_vhost))
    start_service(ApprovalsService, cfg)
    assert_healthy(*health(cfg), "approvals", "sqlite")

    rabbit_admin.delete_vhost(fresh_vhost)  # the broker refuses every connection to it from now on
    body = health_once(cfg, 503, "/health to report the broker down")
    assert body["broker"]["ok"] is False and body["database"]["ok"] is True, body

    rabbit_admin.http.put(f"{RABBIT_API}/vhosts/{fresh_vhost}").raise_for_status()
    rabbit_admin.http.put(f"{RABBIT_API}/permissions/{fresh_vhost}/{RABBIT_USER}",
                          json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    health_once(cfg, 200, "/health to be 200 again")
    assert_healthy(*health(cfg), "approvals", "sqlite")


def test_unavailable_while_the_database_is_unreachable_and_back_after(start_on_postgres, pg_admin):
    cfg = start_on_postgres(ApprovalsService)
    name = make_url(cfg["DATABASE_URL"]).database
    assert_healthy(*health(cfg), "approvals", "postgresql")

    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    body = health_once(cfg, 503, "/health to report the database down")
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False and body["database"]["backend"] == "postgresql", body
    detail = body["database"]["detail"]
    assert detail.startswith("unavailable: ") and "accepting connections" in detail, body
    assert "\n" not in detail and "sqlalche.me" not in detail, body
    assert body["broker"]["ok"] is True, body
    assert body["outbox"] == {"pending": None}, body

    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    health_once(cfg, 200, "/health to be 200 again")
    assert_healthy(*health(cfg), "approvals", "postgresql")

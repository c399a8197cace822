"""The monitor console (电子监察室): a live page for approval monitors, served by notify. Alerts of approvals and
appeals are kept in the console's own tables as their events arrive and pushed to the open pages (server-sent
events); acknowledge / resolve are sent to the alert's owner as `alert.action_requested`, never done here. The
departments' rectification reports (整改) are kept per alert from approvals' `monitor.rectification_*` events for the
review queue; accept / send back go to approvals as `alert.action_requested` (accept_rectification,
return_rectification). Key projects' accountability alerts (问责) and joint approval cases' clock alerts are approvals'
alerts like the others, told apart by their subject (application, project, joint_approval, appeal: the list's
filter, the board's second count).

domain.py the rules (levels, states, lights, commands) · store.py tables and queries · schemas.py the HTTP
schemas · usecases.py take an event in, stream tokens, commands · runtime.py what open streams share ·
endpoints.py the mixin of consumers and HTTP endpoints."""

from .domain import LEVELS, STATES, alert_view
from .endpoints import ConsoleEndpoints
from .runtime import ConsoleRuntime
from .store import board, console_alerts, console_feed, console_stream_tokens, feed_after, feed_latest, list_alerts
from .usecases import record_event

__all__ = ["LEVELS", "STATES", "ConsoleEndpoints", "ConsoleRuntime", "alert_view", "board", "console_alerts",
           "console_feed", "console_stream_tokens", "feed_after", "feed_latest", "list_alerts", "record_event"]

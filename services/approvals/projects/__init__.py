"""Key projects (重点项目), their agents (代办员) for green-channel applications, and joint approval (联合审批):
one case per project that runs one sub-application per item in parallel under one joint limit.

The approvals' `alarms` table hangs off an application, so a project's accountability checks and a joint case's
own clock keep their next check times in tables of their own, claimed by a timer with SKIP LOCKED like the
application monitor's; the alerts they raise are stored with every other alert (`alerts`, by subject), so that
monitors list, acknowledge and resolve them in one place. A project and its plan can be edited after
registration: each change is recorded in the project's history, published, and its checks rescheduled; a closed
project is checked no more. Each quarter needs an inspection (重点督察); an accountability alert can start the
accountability procedure (责任追究程序), which ends in a measure (published for scoring's sanctions register) or a
decision that none is due, and resolves the alert (docs/projects.md).

By layer: `domain` (the rules: periods, quarters, due days, milestone rules, the joint clock, the procedure's),
`store` (the tables, on the approvals' metadata, and their queries), `schemas` (the HTTP API's, answers too),
`views` (how a project, a joint case and a procedure are shown, and who may see a project), `usecases` (the
commands of projects, joint cases and procedures, and the timer's checks), `settings` (`ProjectSettings`) and
`endpoints` (the mixin `ProjectEndpoints`, with the projects' timer)."""

from .endpoints import ProjectEndpoints
from .settings import ProjectSettings

__all__ = ["ProjectEndpoints", "ProjectSettings"]

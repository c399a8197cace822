"""The approvals service (网上审批 + 电子监察). Walking-skeleton scope: the platform endpoints; the
catalogue, the window-system contract and the electronic monitor follow."""

from sqlalchemy import MetaData

from services.kernel import service as base  # a module, so `nameko run` finds only our class
from services.kernel.db import kernel_tables

metadata = MetaData()
kernel_tables(metadata)


class ApprovalsService(base.ServiceBase):
    """网上审批与电子监察 — online approval watched by the electronic monitor."""

    name = "approvals"
    platform = base.Platform(metadata)

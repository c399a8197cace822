"""The approvals service (网上审批 + 电子监察). Walking-skeleton scope: the platform endpoints; the
catalogue, the window-system contract and the electronic monitor follow."""

from sqlalchemy import MetaData

from services.kernel.db import kernel_tables
from services.kernel.service import Platform, ServiceBase

metadata = MetaData()
kernel_tables(metadata)


class ApprovalsService(ServiceBase):
    """网上审批与电子监察 — online approval watched by the electronic monitor."""

    name = "approvals"
    platform = Platform(metadata)

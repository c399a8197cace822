"""The public face of approvals (#15), no key: the service guide (办事指南), the progress query (办件进度查询) by
application number and the receipt's query code, and the disclosure of results (审批结果公开)."""

from .access import PublicAccessProvider


class PublicEndpoints:
    """Mixed into the approvals service (needs `platform`, `settings`)."""

    public_access = PublicAccessProvider()

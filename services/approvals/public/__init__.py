"""The public face of approvals (#15), no key: the service guide (办事指南), the progress query (办件进度查询) by
application number and the receipt's query code, and the disclosure of results (审批结果公开); the page at /public/.
The entrypoints are in endpoints.py, the use cases in usecases.py."""

from .endpoints import PublicEndpoints

__all__ = ["PublicEndpoints"]

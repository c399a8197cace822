"""The Open311 GeoReport v2 facade of the appeals service: any Open311 client files appeals (channel `web`)
through the one intake and looks them up — in the spec's JSON or XML, with the spec's error lists. It is the
public face of the service: it shows only public cases (`appeals.public`), by an opaque id, with their text
scrubbed of personal data and their address cut to the street unless the citizen agreed to show it.

Layout: format.py (the spec's fields, XML and error lists, a case as the spec shows it, a form as an intake),
store.py (what is public, the queries), usecases.py (`file_request` through the one intake, the look-ups:
`services`, `offered`, `find_requests`, `find_request`, `resolve_token`),
entrypoint.py (the `Open311Endpoint` extension: forms, keys, the spec's errors) and endpoints.py (the
`Open311Endpoints` mixin of `AppealsService`, which needs the service's `platform` and `settings`).
Mapping, defaults and examples: docs/open311.md.
"""

from .endpoints import Open311Endpoints
from .entrypoint import Open311Endpoint, open311

__all__ = ["Open311Endpoint", "Open311Endpoints", "open311"]

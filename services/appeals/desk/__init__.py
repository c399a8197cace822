"""The hotline operator's desk (appeals, the read side): the search behind GET /api/v1/appeals (case number,
caller's phone in any spelling, keywords in the content and the reply, and the case's fields), a caller's history
with repeat counts, and the export of a searched list as CSV or a printable list. docs/appeals-desk.md.

The keyword index: SQLite FTS5 with the trigram tokenizer (triggers keep it in step with the appeals table, in
the writing transaction), PostgreSQL pg_trgm GIN indexes; built by revision 0006 or with a fresh schema.

By layer: `domain` (what is searched, who may, Excel-safe cells; pure), `store` (the index and the queries),
`schemas`, `usecases` (search, caller history, export rows), `render` (CSV, HTML), `endpoints` (the mixin
`DeskEndpoints`)."""

from .endpoints import DeskEndpoints

__all__ = ["DeskEndpoints"]

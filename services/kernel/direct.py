"""Statements of the hottest paths run straight on SQLite's DB-API cursor.

SQLAlchemy's execution of a built, cached Core statement still costs 30-150 µs in Python (parameter
processing, the execution context, the result object) where SQLite needs 5-20 µs; the intake runs seven
statements per appeal. A `Direct` statement is a Core statement compiled once per dialect, whose
parameters go through the same bind processors SQLAlchemy would apply (dates as `Moment`, JSON, booleans),
so the rows written and read are the same as through `Connection.execute`. On SQLite it runs on the DB-API
cursor of the caller's connection, inside the caller's transaction; DB-API errors come out as SQLAlchemy's
(`IntegrityError`, `OperationalError`...). On any other database (PostgreSQL) it simply is
`Connection.execute`: there the network round trip, not Python, is the cost.

`XIAONENG_DIRECT=0` in a process's environment makes every Direct statement plain `Connection.execute` on
SQLite too: for `bench/appeals_intake.py --without-direct`, which measures what Direct is worth (ADR 0006).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

# the dialects whose statements run on the DB-API cursor
_DIRECT_DIALECTS = () if os.environ.get("XIAONENG_DIRECT", "1").strip().lower() in ("0", "off", "false", "no") \
    else ("sqlite",)


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Any, ...]  # per name: the bind processor, or None
    values: dict[str, Any]  # the statement's own values (a LIMIT's), for names the caller does not give


class Direct:
    """A Core statement (insert, update, select) to run with `run`, `run_many` or `first`. An insert
    names every column but the generated key (`with_key`: that too; the caller chose it); a column a row
    leaves out gets its Python default or NULL (server defaults are not for Direct inserts)."""

    def __init__(self, statement, *, with_key: bool = False):
        self.statement = statement
        self._plans: dict[str, _Plan] = {}
        self._defaults: dict[str, Any] = {}
        self._keys = None
        if isinstance(statement, Insert):
            # every column but the generated key, so that one compiled form serves every row
            table = statement.table
            auto = None if with_key else table.autoincrement_column
            columns = [c for c in table.columns if c is not auto]
            self._keys = [c.key for c in columns]
            # a value, or a callable (list, dict...) called with no context per row; a SQL default: NULL
            self._defaults = {c.key: c.default.arg if c.default is not None and (c.default.is_scalar or
                                                                                 c.default.is_callable) else None
                              for c in columns}

    def _plan(self, dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self._keys)
            if not compiled.positional:
                raise TypeError(f"Direct needs a positional paramstyle, not {dialect.paramstyle}")
            names = tuple(compiled.positiontup)
            binds = [compiled.binds[name] for name in names]
            processors = tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds)
            values = {name: b.value for name, b in zip(names, binds, strict=True)
                      if not b.required and b.value is not None and not b.callable}
            plan = self._plans[dialect.name] = _Plan(compiled.string, names, processors, values)
        return plan

    def _row(self, plan: _Plan, params: dict) -> tuple:
        values = []
        for name, process in zip(plan.names, plan.processors, strict=True):
            if name in params:
                value = params[name]
            elif name in plan.values:
                value = plan.values[name]
            else:
                value = self._default(name)
            values.append(process(value) if process is not None and value is not None else value)
        return tuple(values)

    def _default(self, key: str) -> Any:
        value = self._defaults[key]  # KeyError: a parameter nobody gave
        return value(None) if callable(value) else value

    def _complete(self, row: dict) -> dict:
        """An insert's row with every column, the missing ones at their defaults."""
        return {**{key: self._default(key) for key in self._keys if key not in row}, **row}

    @staticmethod
    def _connection(conn: Connection | Session) -> Connection:
        return conn.connection() if isinstance(conn, Session) else conn

    def _cursor_call(self, conn: Connection, plan: _Plan, method: str, params):
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            getattr(cursor, method)(plan.sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise DBAPIError.instance(plan.sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
        return cursor

    def run(self, conn: Connection | Session, params: dict) -> int | None:
        """Execute once; for an insert the new row's key, else the number of rows it touched."""
        conn = self._connection(conn)
        if conn.dialect.name not in _DIRECT_DIALECTS:
            result = conn.execute(self.statement, params)
            return result.inserted_primary_key[0] if self._keys is not None else result.rowcount
        plan = self._plan(conn.dialect)
        cursor = self._cursor_call(conn, plan, "execute", self._row(plan, params))
        try:
            return cursor.lastrowid if self._keys is not None else cursor.rowcount
        finally:
            cursor.close()

    def run_many(self, conn: Connection | Session, rows: list[dict]) -> None:
        if not rows:
            return
        conn = self._connection(conn)
        if conn.dialect.name not in _DIRECT_DIALECTS:
            # SQLAlchemy compiles an executemany for the first row's keys: give every row all of them
            conn.execute(self.statement, [self._complete(r) for r in rows] if self._keys is not None else rows)
            return
        plan = self._plan(conn.dialect)
        self._cursor_call(conn, plan, "executemany", [self._row(plan, r) for r in rows]).close()

    def first(self, conn: Connection | Session, params: dict) -> tuple | None:
        """The first row of a select, as a plain tuple of the DB-API's values (no result processing:
        select ids, strings and numbers with it)."""
        conn = self._connection(conn)
        if conn.dialect.name not in _DIRECT_DIALECTS:
            row = conn.execute(self.statement, params).first()
            return tuple(row) if row is not None else None
        plan = self._plan(conn.dialect)
        cursor = self._cursor_call(conn, plan, "execute", self._row(plan, params))
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

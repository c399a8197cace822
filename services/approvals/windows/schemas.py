"""marshmallow schemas of the register of windows' HTTP API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.kernel.fields import Moment

from ..schemas import CODE, SERVICE_POINTS


class WindowIn(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "e.g. 市场监管 1 号窗口"})
    department = fields.String(load_default=None, allow_none=True, validate=CODE, metadata={
        "description": "the department it serves; null: a comprehensive window (综合窗口) serving every department"})
    service_point = fields.String(required=True, validate=validate.OneOf(SERVICE_POINTS))
    active = fields.Boolean(load_default=True, metadata={"description": "an inactive window names no new step"})


class WindowOut(WindowIn):
    department_name = fields.String(allow_none=True, metadata={
        "description": "the department's name in the register of organisations; 综合窗口 for a comprehensive one"})
    comprehensive = fields.Boolean(metadata={"description": "serves every department (综合窗口)"})
    updated_at = Moment()


class WindowsQuery(Schema):
    department = fields.String(load_default=None, validate=CODE, metadata={
        "description": "that department's windows and the comprehensive ones"})
    active = fields.Boolean(load_default=None)
    service_point = fields.String(load_default=None, validate=validate.OneOf(SERVICE_POINTS))

"""marshmallow schemas of the exposure board's public API."""

from marshmallow import Schema, fields, validate

from services.kernel.fields import page_of

from .domain import KINDS, MAX_PROBLEM_CHARS, RECTIFIED, RECTIFYING

MAX_PER_PAGE = 100


class ExposuresQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ExposureOut(Schema):
    public_id = fields.String(metadata={"description": "the case's opaque public id (random, not the case number; "
                                                      "the same as its Open311 service_request_id)"})
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={
        "description": "appeal: a citizen's appeal the supervising office exposed; approval_supervision: a "
                       "supervision order (督办) on an approval, exposed by the electronic monitor"})
    kind_zh = fields.String(metadata={"description": "the same in Chinese (群众诉求, 审批督办)"})
    item_name = fields.String(allow_none=True, metadata={"description": "the approval item (审批事项) of a supervision "
                                                                       "order; null for an appeal"})
    category_name = fields.String(allow_none=True, metadata={"description": "the category of an appeal (道路设施)"})
    town_street_name = fields.String(allow_none=True, metadata={"description": "the town-street (街道), if known"})
    department_name = fields.String(allow_none=True, metadata={"description": "the department handling the case"})
    problem = fields.String(metadata={
        "description": f"the problem, desensitised: phone, id and card numbers, e-mail and accounts replaced by "
                       f"labels ([电话] …), the appellant's name masked, the address cut to the street; at most "
                       f"{MAX_PROBLEM_CHARS} characters"})
    exposed_at = fields.Date(metadata={"description": "the day the supervising office exposed the case"})
    act_by = fields.Date(allow_none=True, metadata={"description": "the day the department was ordered to act by "
                                                                   "(督办期限), the latest order's"})
    state = fields.String(validate=validate.OneOf((RECTIFYING, RECTIFIED)), metadata={
        "description": f"{RECTIFYING} until the case is closed with the department's reply, then {RECTIFIED}"})
    rectified = fields.Boolean()
    rectification = fields.String(allow_none=True, metadata={
        "description": "the department's reply once rectified (整改情况), desensitised the same way"})
    closed_at = fields.Date(allow_none=True, metadata={"description": "the day the case was closed (an appeal) or the "
                                                                      "department acted (an order), once rectified"})


ExposurePage = page_of(ExposureOut, "ExposurePage")

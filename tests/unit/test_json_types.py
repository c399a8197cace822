"""A JSON body carries the JSON type its document names: marshmallow alone would take 1 or "yes" for a boolean
and "12" for a number (as form and query strings need), so the kernel refuses those in bodies first."""

from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, fields

from services.kernel.http import json_type_errors


class Inner(Schema):
    flag = fields.Boolean()


class Body(Schema):
    flag = fields.Boolean(load_default=False)
    count = fields.Integer()
    share = fields.Float(data_key="ratio")
    name = fields.String()
    inner = fields.Nested(Inner)
    counts = fields.List(fields.Integer())


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.lists(st.booleans(), max_size=2)))
def test_anything_but_true_or_false_is_no_boolean(value):
    assert json_type_errors(Body(), {"flag": value}) == {"flag": ["Not a valid boolean: JSON true or false expected."]}
    assert "inner" in json_type_errors(Body(), {"inner": {"flag": value}})


@given(st.one_of(st.booleans(), st.text(), st.lists(st.integers(), max_size=2)))
def test_anything_but_a_json_number_is_no_number(value):
    errors = json_type_errors(Body(), {"count": value, "ratio": value, "counts": [1, value]})
    assert set(errors) == {"count", "ratio", "counts"}
    assert errors["counts"] == {1: ["Not a valid number: a JSON number expected."]}


@given(st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), json_scalars)
def test_values_of_their_documented_type_pass(flag, count, share, anything):
    body = {"flag": flag, "count": count, "ratio": share, "inner": {"flag": flag}, "counts": [count, count],
            "unknown": anything, "name": "x"}
    assert json_type_errors(Body(), body) == {}
    assert json_type_errors(Body(), {"flag": None, "count": None}) == {}  # null is the schema's to judge

"""The kernel's routing: an id no database can hold is not found (404), also where werkzeug would answer 405
because a rule of another method has the same path."""

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from services.kernel.fields import MAX_ID
from services.kernel.http import IdConverter, match_route


def adapter(method, path):
    rules = Map([Rule("/visits/<int:visit_id>/rectification", methods=["GET"], endpoint="get"),
                 Rule("/visits/<int:visit_id>/rectification", methods=["POST"], endpoint="post"),
                 Rule("/items", methods=["GET"], endpoint="items")], converters={"int": IdConverter})
    return rules.bind("localhost", path_info=path, default_method=method)


def test_an_id_beyond_any_database_is_not_found_whatever_the_method():
    too_big = f"/visits/{MAX_ID + 1}/rectification"
    for method in ("GET", "POST", "DELETE"):
        with pytest.raises(NotFound):
            match_route(adapter(method, too_big))


def test_a_method_no_rule_takes_is_405_with_the_methods_that_do():
    with pytest.raises(MethodNotAllowed) as caught:
        match_route(adapter("DELETE", "/visits/7/rectification"))
    assert set(caught.value.valid_methods) >= {"GET", "POST"}
    with pytest.raises(MethodNotAllowed):
        match_route(adapter("POST", "/items"))
    assert match_route(adapter("GET", "/visits/7/rectification")) == ("get", {"visit_id": 7})

"""`nameko run services.<name>.service` must find exactly the one service of each module (it takes every
class with entrypoints it sees in the module, imported mixins and bases included)."""

import pytest
from nameko.cli.run import import_service


@pytest.mark.parametrize("name", ["appeals", "approvals", "scoring", "notify"])
def test_nameko_run_finds_exactly_one_service(name):
    found = import_service(f"services.{name}.service")
    assert [cls.name for cls in found] == [name]

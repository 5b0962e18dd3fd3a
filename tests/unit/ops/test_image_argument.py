"""What `deploy SERVICE IMAGE` accepts: a tag, REPOSITORY:TAG or REPOSITORY@DIGEST of the service's repository."""

from __future__ import annotations

import pytest

from console.core.errors import InvalidInput
from console.core.ops.releases import parse_image_argument
from tests.unit.ops.test_traffic_plan import SERVICE

DIGEST = "sha256:" + "ab" * 32


def test_a_bare_tag_names_the_services_repository():
    choice = parse_image_argument(SERVICE, "v2")
    assert (choice.reference, choice.tag) == ("127.0.0.1:5000/demo:v2", "v2")


def test_a_digest_reference_is_kept_as_is():
    assert (
        parse_image_argument(SERVICE, f"127.0.0.1:5000/demo@{DIGEST}").reference
        == f"127.0.0.1:5000/demo@{DIGEST}"
    )


def test_another_repository_is_refused():
    with pytest.raises(InvalidInput, match="is not web's repository"):
        parse_image_argument(SERVICE, "127.0.0.1:5000/other:v2")


def test_shell_metacharacters_are_refused():
    with pytest.raises(InvalidInput, match="invalid image"):
        parse_image_argument(SERVICE, "v2; rm -rf /")

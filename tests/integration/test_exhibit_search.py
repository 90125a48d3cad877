"""The admin's exhibit search, as an officer uses it: an exhibit's reference in any case, the start of a
tasking's reference, or any part of the other party's accounts; every word must match the same exhibit,
and a quoted phrase is one word. (It is asked of three indexes rather than the admin's own join: see
ExhibitAdmin.get_search_results and migration evidence 0020.)"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import enrol_totp, make_tasking, mfa_login
from tests.integration.bundle_helpers import CHAT, PNG, submit_exhibit

pytestmark = pytest.mark.django_db


@pytest.fixture
def exhibits(assigned_vera, tasking, lantern, owen, tmp_path):
    from evidence.services import tasking_assign

    river = make_tasking(lantern, owen, reference="RIVER-7")
    tasking_assign(tasking=river, volunteer=assigned_vera.user, by=owen)
    vera = assigned_vera.user
    return {
        "dave": submit_exhibit(vera, tasking, tmp_path, "a.png", PNG, "image/png", other_party="Dave_77 on Platform X"),
        "mia": submit_exhibit(vera, tasking, tmp_path, "b.txt", CHAT, "text/plain", other_party="mia.x@example.com"),
        "river": submit_exhibit(vera, river, tmp_path, "c.png", PNG, "image/png", other_party="kestrel_9"),
    }


def _found(client, words: str) -> set[str]:
    response = client.get(f"/admin/evidence/exhibit/?{urlencode({'q': words})}")
    assert response.status_code == 200
    found = {(exhibit.tasking.reference, exhibit.reference) for exhibit in response.context["cl"].result_list}
    return {f"{tasking} {reference}" for tasking, reference in found}


def test_an_officer_finds_exhibits_by_reference_tasking_or_other_party(client, owen, exhibits):
    mfa_login(client, owen, enrol_totp(owen))
    dave, mia, river = (f"{e.tasking.reference} {e.reference}" for e in exhibits.values())

    # Each tasking numbers its exhibits from 1: the first of each carries the same reference.
    assert [e.reference for e in exhibits.values()] == ["VD/1", "VD/2", "VD/1"]
    assert _found(client, "vd/1") == {dave, river}  # an exhibit's reference in full, any case
    assert _found(client, "VD/") == set()  # ... in full, not its start
    assert _found(client, "op-lan") == {dave, mia}  # the start of a tasking's reference, any case
    assert _found(client, "lantern") == set()  # ... its start, not any part
    assert _found(client, "AVE_7") == {dave}  # any part of the other party, any case
    assert _found(client, "EXAMPLE.COM") == {mia}
    assert _found(client, "river kestrel") == {river}  # every word matches the same exhibit
    assert _found(client, "op-lantern kestrel") == set()
    assert _found(client, '"on platform x"') == {dave}  # a quoted phrase is one word
    assert _found(client, "on platform x") == {dave}
    assert _found(client, "nobody") == set()


def test_the_search_keeps_to_the_officer_s_scheme(client, otto, exhibits, harbour):
    make_tasking(harbour, otto, reference="OP-LANTERN-9")  # another scheme's tasking with a matching start
    mfa_login(client, otto, enrol_totp(otto))
    assert _found(client, "op-lan") == set()
    assert _found(client, "dave") == set()

"""Last-Modified and If-Modified-Since with whole-second dates and sub-second changes."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from tryvoga.api.http import EPOCH, Rendered

CHANGE = "2024-01-02T10:11:12.400Z"  # the second 10:11:12
S = int(parsedate_to_datetime("Tue, 02 Jan 2024 10:11:12 GMT").timestamp())


def test_last_modified_is_the_second_while_it_lasts_then_the_next() -> None:
    item = Rendered.of(b"{}", CHANGE)
    assert item.modified == S
    assert item.last_modified(S + 0.9) == "Tue, 02 Jan 2024 10:11:12 GMT"
    assert item.last_modified(S + 1.0) == "Tue, 02 Jan 2024 10:11:13 GMT"
    assert item.last_modified(S + 3600) == "Tue, 02 Jan 2024 10:11:13 GMT"
    assert Rendered.of(b"{}", None).modified == EPOCH


def test_never_later_than_now() -> None:
    item = Rendered.of(b"{}", CHANGE)
    for now in (S + 0.0, S + 0.5, S + 1.0, S + 2.5):
        assert parsedate_to_datetime(item.last_modified(now)).timestamp() <= now

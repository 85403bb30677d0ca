"""The bodies of the writes that are not service commands, one msgspec model each.

Native webhooks, the ukrainealarm façade's ``/api/v3/webhook``, the channel's posts, statements
and proposal decisions are decoded at the edge straight into these models, as the commands are
(``commands.py``): types, bounds, enums and unknown fields are checked in the one pass, after
the guards of issue 15 (defect 9) on nesting and numbers, and the OpenAPI description takes
its request schemas from the same models (``api/openapi.py``). What a model cannot know (the
URL's address, whether a region exists, the statement's length limit with its own code) the
endpoint's own checks still say, with the codes they always had.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from tryvoga.commands import MAX_ID, Command, RegionCode, Time, parse
from tryvoga.delivery.filters import MAX_FILTER_ITEMS
from tryvoga.delivery.safety import MAX_URL
from tryvoga.delivery.subscriptions import MAX_DESCRIPTION
from tryvoga.domain.events import Kind
from tryvoga.domain.model import AlertType
from tryvoga.errors import BadRequest
from tryvoga.ingest.proposals import MAX_SOURCE, MAX_STATEMENT
from tryvoga.parsing import MAX_JSON_DEPTH, depth_ok

MAX_POSTS = 500
MAX_POST_TEXT = 10_000  # characters of one post, as ``ingest/channel`` reads it
MAX_REASON = 500
# Every kind and every family of kinds (``alert.*``) a webhook may ask for.
KINDS = sorted({k.value for k in Kind} | {k.value.split(".")[0] + ".*" for k in Kind})

KindName = Annotated[str, Meta(pattern="^(" + "|".join(k.replace(".", r"\.").replace("*", r"\*")
                                                      for k in KINDS) + ")$",
                               extra_json_schema={"enum": KINDS})]
# The description's pattern is the form of an absolute http(s) URL; the server's own check
# (delivery/safety.py) says more with codes of its own (webhook_url_invalid, ..._refused).
Url = Annotated[str, Meta(min_length=1, max_length=MAX_URL,
                          description="an absolute http:// or https:// URL",
                          # As loose as the server: what does not start so, it refuses.
                          extra_json_schema={"pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://\S"})]
Filter = Annotated[list[Any], Meta(min_length=1, max_length=MAX_FILTER_ITEMS)]

B = TypeVar("B", bound=msgspec.Struct)


def parse_body(raw: bytes, cls: type[B]) -> B:
    """The model ``raw`` says, or the one error shape: 400 for a body that is not a JSON
    object (or nests more than MAX_JSON_DEPTH), 422 naming the field that does not fit."""
    if not depth_ok(raw):
        raise BadRequest(f"the body nests arrays and objects more than {MAX_JSON_DEPTH} deep",
                         code="malformed_json", status=400)
    return parse(raw, cls)


# ---- native webhooks (api/webhooks.py) ----------------------------------------------------

class CreateWebhook(Command, frozen=True, kw_only=True):
    """A webhook subscription: where to POST, and which events (all within the token's scope
    when ``regions`` is left out)."""

    url: Url
    regions: Annotated[list[RegionCode], Meta(min_length=1,
                                              max_length=MAX_FILTER_ITEMS)] | None = None
    types: Annotated[list[AlertType], Meta(min_length=1, max_length=MAX_FILTER_ITEMS)] | None = (
        None)
    kinds: Annotated[list[KindName], Meta(min_length=1,
                                          max_length=MAX_FILTER_ITEMS)] | None = None
    format: Literal["native"] = "native"
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION)] = ""

    def fields(self) -> dict[str, Any]:
        """As the subscriptions take them (``delivery/subscriptions.py``)."""
        given: dict[str, Any] = msgspec.to_builtins(self)
        return {name: value for name, value in given.items() if value is not None}


# ---- the ukrainealarm façade's webhook (api/ukrainealarm_webhooks.py) -----------------------

RegionIds = Annotated[
    list[Annotated[str, Meta(max_length=20)] | Annotated[int, Meta(ge=0, le=MAX_ID)]],
    Meta(min_length=1, max_length=MAX_FILTER_ITEMS)]


class UkraineAlarmWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """``{"webHookUrl", "regionIds"}`` as the façade's clients send it; other fields are
    ignored, as the API it copies ignores them."""

    webHookUrl: Url
    regionIds: RegionIds | UnsetType | None = UNSET


def parse_facade_body(raw: bytes, cls: type[B]) -> B:
    """As ``parse_body``, with every refusal a 400 whose message names the field: the
    façade answers ``{"message": ...}`` with 400 for any bad body."""
    if not raw.strip():
        raise BadRequest('the body must be a JSON object: {"webHookUrl": "https://..."}',
                         status=400)
    try:
        return parse_body(raw, cls)
    except BadRequest as exc:
        raise BadRequest(exc.message, status=400) from None


# ---- the channel's posts (api/channel.py) -----------------------------------------------------

class TextEntity(msgspec.Struct, frozen=True, kw_only=True):
    """A Telegram text entity; only its text is read."""

    type: Annotated[str, Meta(max_length=100)] = ""
    text: Annotated[str, Meta(max_length=MAX_POST_TEXT)] = ""


Entities = Annotated[list[Annotated[str, Meta(max_length=MAX_POST_TEXT)] | TextEntity],
                     Meta(max_length=MAX_POST_TEXT)]
ChannelName = Annotated[str, Meta(min_length=1, max_length=120,
                                  pattern=r"^\s*[A-Za-z0-9_@.:-]{1,100}\s*$",
                                  examples=["air_alert_ua"])]
# Seconds since 1970 up to the end of 9999 as a number, or (as Telegram exports write it) as
# text of up to 11 digits (before the year 5138).
UnixTime = (Annotated[int, Meta(ge=0, le=253_402_300_799)]
            | Annotated[str, Meta(pattern=r"^\s*[0-9]{1,11}\s*$", max_length=20)])


class ChannelPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
                  rename={"from_": "from"}):
    """One post: ``id``, ``date`` (or ``date_unixtime``) and ``text``; the other fields of a
    Telegram export are taken and not read."""

    id: (Annotated[int, Meta(ge=0, le=MAX_ID)]
         | Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^\s*\S+\s*$")]
         | UnsetType) = UNSET
    date: Time | UnsetType = UNSET
    date_unixtime: UnixTime | UnsetType = UNSET
    text: Annotated[str, Meta(max_length=MAX_POST_TEXT)] | Entities | UnsetType | None = UNSET
    channel: ChannelName | UnsetType = UNSET
    type: Annotated[str, Meta(max_length=100)] | UnsetType = UNSET
    text_entities: Entities | UnsetType = UNSET
    from_: Annotated[str, Meta(max_length=500)] | UnsetType | None = UNSET
    from_id: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    edited: Annotated[str, Meta(max_length=64)] | UnsetType = UNSET  # not read
    edited_unixtime: UnixTime | UnsetType = UNSET

    def raw(self) -> dict[str, Any]:
        """The post as ``ingest.channel.post_from_json`` reads it (what was given)."""
        given: dict[str, Any] = msgspec.to_builtins(self)
        return given


class ChannelBody(ChannelPost, frozen=True, kw_only=True):
    """One post, or ``{"channel", "posts": [...]}``."""

    posts: Annotated[list[ChannelPost], Meta(min_length=1, max_length=MAX_POSTS)] | UnsetType = (
        UNSET)

    def __post_init__(self) -> None:
        if self.posts is not UNSET:
            extra = sorted(set(msgspec.to_builtins(self)) - {"posts", "channel"})
            if extra:
                raise ValueError(f"{extra[0]}: with posts, only channel may be given beside "
                                 "them")


# ---- statements and proposals (api/proposals.py) -------------------------------------------

class Statement(Command, frozen=True, kw_only=True):
    """A statement to read into proposals (or send it as text/plain)."""

    # Its presence and length are checked by the reader's desk, which answers with codes of
    # its own (statement_empty, 422; statement_too_long, 413); the description says both.
    text: Annotated[str, Meta(extra_json_schema={"maxLength": MAX_STATEMENT,
                                                 "pattern": r"\S"})] | None = None
    source: Annotated[str, Meta(max_length=MAX_SOURCE)] | None = None
    within: RegionCode | None = None


class RejectProposal(Command, frozen=True, kw_only=True):
    reason: Annotated[str, Meta(max_length=MAX_REASON)] | None = None


class AcceptProposal(Command, frozen=True, kw_only=True):
    """Nothing to say: an empty object (or no body)."""


BODIES: tuple[type[msgspec.Struct], ...] = (CreateWebhook, UkraineAlarmWebhook, ChannelBody,
                                             Statement, RejectProposal, AcceptProposal)

__all__ = ["BODIES", "MAX_POSTS", "MAX_SOURCE", "MAX_STATEMENT", "AcceptProposal", "ChannelBody",
           "ChannelPost", "CreateWebhook",
           "RejectProposal", "Statement", "UkraineAlarmWebhook", "parse_body",
           "parse_facade_body"]

"""Posts of the official alert channel ("Повітряна тривога") become alert events.

The formats are those in ``data/messages/README.md`` of the shared data:

* ``🔴 HH:MM Повітряна тривога в {place}``: an air-raid alert starts;
* ``🟢 HH:MM Відбій тривоги в {place}.``: it ends;
* ``🟡 HH:MM Відбій тривоги в {place}.`` + ``Зверніть увагу, тривога ще триває у:`` and a
  ``- {place}`` list: it ends there, but continues in the places listed;
* ``Загроза артобстрілу в {place}`` / ``Відбій загрози артобстрілу в {place}`` (and the older
  ``Загроза артобстрілу!`` + ``Зараз у {place}``): artillery shelling; by analogy urban fights
  (``Загроза вуличних боїв``), chemical (``Хімічна загроза``) and nuclear
  (``Радіаційна загроза``), each with its ``Відбій ...``;
* ``{place} - повітряна тривога!`` / ``{place} - відбій повітряної тривоги!`` (regional
  administrations);
* threat notices: ``Загроза ударних БпЛА``, ``Ракетна загроза``, ``Загроза керованих
  авіабомб``, ballistic threats and their ``Відбій ...`` (``Відбій по КАБах``). They never start
  or end an air-raid alert: the threat is added to (or taken from) the active air-raid alerts
  that cover the place, contain it or lie inside it; with none, the post is recorded as a
  threat notice and nothing changes.

``в {place}`` may instead be followed by lines ``• {place}``; a post's hashtags
(``#м_Київ``) name its places where the text does not, and help to tell apart places with the
same name. Places are resolved through the catalogue's name index. Posts that name
``Тестовий Регіон`` are tests and are ignored.

Time: the HH:MM in the text is Kyiv local time as the channel wrote it; the post's own
timestamp is authoritative and becomes the alert's start or end.

Applying a post
---------------
Each post is one command on the write path, keyed by channel and message id (the idempotency
key ``post:<id>`` of the actor ``channel:<channel>``; a token limited to some regions has keys
of its own), so it is applied once whatever the input it arrives by (an export, a text file, the
live feed) and re-sending it changes nothing. Within the post everything is decided against the
current state and applied in one transaction:

* a start on a place that already has its own active alert of that type changes nothing; a
  start older than the place's last all-clear of that type (a post arriving out of order) is
  skipped as superseded;
* an end closes the place's own active alert at the post's time. If the place has none but a
  region containing it has (an oblast-wide alert ended for one raion), that alert is split: it
  ends, and the other parts of it (raions, hromadas, districts) get alerts of their own from its
  start, so no place that the post did not name loses its alert. Alerts declared inside the
  place keep running: only their own all-clear ends them;
* a partial end is an end, and the places listed as still on alert keep (or get) an alert.

Every post is reported as applied, skipped (with the reason) or failed (with the reason: not
recognized, no place, a place that names no region or several).
"""

from tryvoga.ingest.channel.apply import ChannelIngest, Outcome, refused, summarize
from tryvoga.ingest.channel.export import (
    DEFAULT_CHANNEL,
    KYIV,
    MAX_TEXT,
    Post,
    post_from_json,
    read_file,
    read_telegram_export,
    read_text_posts,
)
from tryvoga.ingest.channel.parse import Action, ChannelParser, Parsed, Place

__all__ = ["DEFAULT_CHANNEL", "KYIV", "MAX_TEXT", "Action", "ChannelIngest", "ChannelParser",
           "Outcome", "Parsed", "Place", "Post", "post_from_json", "read_file",
           "read_telegram_export", "read_text_posts", "refused", "summarize"]

"""CAP 1.2 (OASIS Common Alerting Protocol): every alert change as a standard warning message.

    projection.py   the log → one message per alert or incident change (pure, deterministic)
    texts.py        Ukrainian and English wording, the 90-character GSM-7 short text
    geo.py          area polygons from the packaged geometry
    render.py       a message → CAP XML bytes; times in Kyiv local offset, never ``Z``
    signing.py      optional enveloped XML-DSig (RSA-SHA256) with a configured key
    feeds.py        Atom and RSS feeds of active and recent messages, paged under 90 KB
    parse.py        incoming CAP: safe parsing, the official XSD, what it asks for
    sources.py      where incoming CAP comes from: files, URLs, Atom/RSS feeds and their pages
    ingest.py       incoming messages → commands on the Service
    command.py      ``tryvoga ingest cap FILE|URL...`` (URLs on loopback only)
    poller.py       the server's periodic poll of configured CAP/Atom feeds
"""

"""The ``tryvoga`` command, one module per group of commands.

``main.py`` holds the top group and the server (``serve``) with the commands on the log itself
(alerts, incidents, regions, history, verify, tokens); ``kit.py`` the helpers every group shares;
``ingest.py`` the ``ingest`` group, which ``cap.py``, ``records.py`` (channel posts, the
historical record, statistics, replays) and ``statements.py`` (statements and proposals) fill;
``webhooks.py`` subscriptions and the delivery worker; ``compat.py`` the façades' own records.
"""

from tryvoga.cli.main import main

__all__ = ["main"]

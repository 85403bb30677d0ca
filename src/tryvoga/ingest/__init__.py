"""Ingest: official channel messages, the historical record, CAP from other authorities, and
free-text statements. Each ingester turns outside input into commands on the one write path."""

"""Read models over the log and the tables beside it, for the API and the CLI alike: the
record (live alerts and imported history read together, ``records.py``). Reads only."""

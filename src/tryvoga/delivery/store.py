"""Moved to ``storage/delivery.py``: no module outside ``storage/`` opens the database."""

from tryvoga.storage.delivery import DeliveryStore

__all__ = ["DeliveryStore"]

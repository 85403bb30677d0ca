"""Tryvoga: a self-hostable public warning service."""

__version__ = "0.1.0"

"""Processors: one module per kind of file behind one small interface, chosen by a registry."""

from .base import ProcessingError, Processor, Result
from .registry import Choice, Registry

__all__ = ["Choice", "ProcessingError", "Processor", "Registry", "Result"]

"""gradflow: exact gradient flow of induction-head emergence in a small transformer."""

from . import reference
from .task import Task

__all__ = ["Task", "reference"]

"""The composition root (:func:`build_services`): the one place settings become objects."""

from cordvault.runtime.services import Services, build_services

__all__ = ["Services", "build_services"]

"""Errors that mean the tool could not do its job (exit code 2), never a finding."""


class InspectorError(Exception):
    """A failure the user can act on; the CLI prints the message, never a traceback."""


class EngineUnavailable(InspectorError):
    """No Docker engine answered."""


class ImageNotFound(InspectorError):
    """The reference names no image the source knows."""

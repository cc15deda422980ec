"""inspector: audit built Python container images for production readiness."""

__version__ = "0.1.0"

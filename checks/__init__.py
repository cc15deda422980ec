"""The check catalog: pure functions of an image's facts (see ../shared/design.md)."""

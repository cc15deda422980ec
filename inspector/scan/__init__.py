"""`inspector scan`: nightly audits of a whole registry."""

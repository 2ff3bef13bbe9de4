"""Generators for the formats Sealbook's OpenAPI document names that schemathesis does not know."""

import base64

import schemathesis
from hypothesis import strategies as st

# `cursor`: the opaque `next_cursor` the server hands out, base64url without padding of "v1:<index>".
schemathesis.openapi.format(
    "cursor",
    st.integers(min_value=0, max_value=2**64 - 1).map(
        lambda n: base64.urlsafe_b64encode(f"v1:{n}".encode()).decode().rstrip("=")
    ),
)

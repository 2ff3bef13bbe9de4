"""Generators for the formats Sealbook's OpenAPI document names that schemathesis does not know, and
the one steer of generated data towards state the document cannot describe (the tenant's catalog)."""

import base64
import zlib

import schemathesis
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

# `cursor`: the opaque `next_cursor` the server hands out, base64url without padding of "v1:<index>".
schemathesis.openapi.format(
    "cursor",
    st.integers(min_value=0, max_value=2**64 - 1).map(
        lambda n: base64.urlsafe_b64encode(f"v1:{n}".encode()).decode().rstrip("=")
    ),
)


# `POST /v1/events`: whether an event is accepted depends on the tenant's catalog, which the
# document cannot know (schemathesis.toml widens the check for that). Left alone, nearly every
# generated event names a type no catalog has, so no ingest succeeds and the stateful phase never
# follows a receipt to the event, its proof or a redaction question. Half of the positive cases (by
# a stable hash of the drawn type, so a seed replays) are steered to built-in types whose data
# schema has no required field, without a `tenant` field (it must name the key's tenant) and at
# schema version 1 (the only one built in). Each change keeps the case schema-valid; negative cases
# are left as drawn.
_PERMISSIVE_TYPES = [
    "user.login_succeeded",
    "user.logout",
    "user.deactivated",
    "data.exported",
    "config.changed",
    "order.created",
    "order.status_changed",
    "audit_log.viewed",
]


def _steer(event):
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return
    h = zlib.crc32(event["type"].encode())
    if h % 2:
        return
    event["type"] = _PERMISSIVE_TYPES[(h >> 1) % len(_PERMISSIVE_TYPES)]
    event.pop("tenant", None)
    if "schema_version" in event:
        event["schema_version"] = 1


@schemathesis.hook
def map_case(context, case):
    op = context.operation
    meta = case.meta
    if (
        op is None
        or op.path != "/v1/events"
        or op.method.upper() != "POST"
        or meta is None
        or meta.generation.mode != GenerationMode.POSITIVE
        or case.media_type not in (None, "application/json")
    ):
        return case
    body = case.body
    for event in body if isinstance(body, list) else [body]:
        _steer(event)
    return case

"""Schemathesis hooks for `make fuzz-api`.

The OpenAPI document states every rule about the *shape* of a request. A few refusals depend on
the server's *state* instead, and no schema can predict them for a generated value:

- a TOTP code that is not the current one (`code`), the account's real password
  (`current_password`, and `password` when TOTP is turned on or off or a personal access token is
  made: required exactly when the account has one, which accounts made through OAuth alone do
  not);
- an id that names no usable row (`assignee_id` of a task: an active user; `category_id` of a
  product; `product_id` of an owned item: an active product; `user_id` of a new room member: a user;
  `user_id` of a new project member: an active user);
- today's date (`purchase_date` must not be in the future);
- a rule between two fields (`warranty_expires` not before `purchase_date`, a `price_cents` needs
  a `currency`, a category `name` without a letter or digit needs a `slug`, a `recurrence` needs a
  `due_date`), which JSON Schema can state only by listing every pair;
- a project the caller edits in (`project_id` of a task) and an assignee who is its member;
- a calendar (an `UNTIL` of a recurrence that matches its pattern but names a 13th month);
- a rule between the parts of a recurrence, whose pattern states each part's form in any order
  (RFC 5545 fixes none): each part at most once, `COUNT` and `UNTIL` not together, `BYMONTHDAY`
  not with `FREQ=WEEKLY`, which a pattern could state only by listing every order;
- an `Idempotency-Key` that this user already sent with another body;
- a webhook URL naming an internal address (the operator decides whether those are allowed);
- a file attached to a task the caller cannot see or an item not theirs, or to both at once;
- a trade's items (the caller's on one side, the recipient's tradeable ones on the other, at least
  one in all, none on both sides) and its recipient (another active user);
- an inbound webhook's signature: an HMAC of the raw body under a secret only the server and the
  provider hold, so a generated one is refused with `400 invalid-signature`.
- chat: `with` and `room` given together (or neither) where one is needed, a read mark on a message
  of another conversation, a direct conversation with oneself, and a reaction that is not one emoji
  (one extended grapheme cluster, which no JSON Schema pattern can state);
- a task's reminders: `at` a moment to come (the clock), `at` or `before_due` but one of them (a
  rule between two fields), `before_due` an ISO 8601 duration of weeks to seconds, positive and at
  most a year (a grammar whose every order of parts a pattern would have to list), and at most ten
  a task (`reminders`: the task's state);
- the search language: a term of `q` that does not read (an unknown qualifier or value, a username
  nobody has), named on `q` with the term quoted.

One rule about shape is not written on each string of the document either: no text the API keeps
may hold U+0000 (PostgreSQL cannot store it). A body string holding it is a `422` naming the field, a
query parameter a `400` naming it, with the message in `NUL_REFUSAL`.

The contract answers each state-dependent refusal with `422` naming the field. Such an answer to a schema-valid request is
right, so it is not reported as a failure: only when *every* field the answer names is one of these,
with the server's message for that state. Anything else (a length, a pattern, a missing field)
remains a failure.

To reach the rest of the server rather than stop at those refusals, schema-valid requests also
carry real ids where the document cannot say which exist: `scripts/fuzz-api.sh` exports
`FUZZ_REAL_IDS`, a JSON object from a body property name to the ids it may take (for example
`{"assignee_id": [1, 3], "product_id": [2]}`), and positive cases use those.
"""

from __future__ import annotations

import json
import os
import re
import uuid

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData, ServerError
from schemathesis.openapi.checks import RejectedPositiveData

# The errors of a task's custom field values are named `fields.<id>`.
FIELD_VALUE = "fields."

# (field, message) of the 422s that answer a state, not a shape.
STATE_DEPENDENT_REFUSALS = {
    ("code", "is invalid, expired or already used"),
    ("current_password", "is incorrect"),
    ("password", "is required: the current password of the account"),
    ("password", "is not the current password"),
    ("assignee_id", "must be an active user"),
    ("category_id", "must be an existing category"),
    ("product_id", "must be an existing, active product"),
    ("product_id", "is discontinued; only active products can be added"),
    ("purchase_date", "must not be in the future"),
    ("warranty_expires", "must not be before purchase_date"),
    ("currency", "is required when price_cents is set"),
    ("slug", "cannot be derived from the name; send one"),
    ("Idempotency-Key", "was already used with a different request body"),
    ("url", "must not point at a private, loopback or link-local address"),
    ("task_id", "must be a task you can see"),
    ("user_product_id", "must be an item of your collection"),
    ("user_product_id", "a file is attached to a task or to an item, not both"),
    ("user_id", "is not an existing user"),
    ("user_id", "must be an active user"),
    ("recipient_id", "must be another user"),
    ("recipient_id", "must be an active user"),
    ("offered_item_ids", "a trade holds at least one item"),
    ("requested_item_ids", "must not name an item that is also offered"),
    ("offered_item_ids", "must be items of yours that are not sold, broken or archived"),
    ("requested_item_ids", "must be tradeable items of the recipient that are not sold, broken or archived"),
    ("project_id", "must be a project you are a member of"),
    ("assignee_id", "must be a member of the task's project"),
    ("recurrence", "needs a due_date, where its occurrences start"),
    ("recurrence", "UNTIL must be a real date and time"),
    ("recurrence", "each rule part may be given once"),
    ("recurrence", "COUNT and UNTIL cannot be given together"),
    ("recurrence", "BYMONTHDAY cannot be given with FREQ=WEEKLY"),
    ("room", "give `with` or `room`, not both"),
    ("with", "give `with` (a user) or `room`"),
    ("with", "cannot be yourself"),
    ("up_to", "is not a message of that conversation"),
    ("emoji", "must be one emoji"),
    ("file_ids", "must be audio files of the station's owner"),
    ("at", "must be in the future"),
    ("at", "give either `at` or `before_due`, not both"),
    ("at", "give `at` (a moment) or `before_due` (a span before the due date)"),
    ("before_due", "must be a positive span of at most a year"),
    ("before_due", "must be an ISO 8601 duration of weeks, days, hours, minutes or seconds (P1D, PT2H)"),
    ("reminders", "a task holds at most 10 reminders"),
}

# `503`s the contract gives for a state of the server, not a failure of it: a station with
# neither a live source nor a playlist is off the air.
STATE_UNAVAILABLE = {"/station-off-air"}

# A query of the search language (`q` of `GET /search` and `POST /searches`) is refused term by
# term, each message quoting its term: what the document can only describe in words.
LANGUAGE_FIELD = "q"
LANGUAGE_TERM = "term `"


# The refusal of text holding U+0000, for any field or query parameter.
NUL_REFUSAL = "must not contain the NUL character (U+0000)"

# Operations whose `400` with this problem type answers a signature no client without the secret
# could compute.
SIGNED_OPERATIONS = {"receive_github_webhook", "receive_stripe_webhook"}
INVALID_SIGNATURE = "/invalid-signature"
# An unsubscribe link's token is signed by the server: a generated one is refused `400`.
UNSUBSCRIBE_OPERATIONS = {"unsubscribe_notifications", "unsubscribe_notifications_one_click"}
INVALID_UNSUBSCRIBE = "/invalid-unsubscribe-token"

REAL_IDS: dict[str, list[int]] = {
    name: [int(i) for i in ids] for name, ids in json.loads(os.environ.get("FUZZ_REAL_IDS") or "{}").items() if ids
}


@schemathesis.hook
def map_case(context, case):
    """Integral floats in paths and queries are written as integers (see below); schema-valid
    bodies name rows that exist: each property listed in `FUZZ_REAL_IDS` that holds
    a positive integer takes one of its real ids (chosen by the drawn value, so runs replay).

    In the stateful phase every create carries a key of its own: there a created resource is
    followed into later calls, and a replayed key answers the *first* creation again (as the
    contract says), whose resource an earlier step of the chain may have deleted since."""
    meta = case.meta
    # A path or query parameter is sent as OpenAPI serialises its value (RFC 6570): the integer 5
    # is "5". The generator draws integral floats (5.0) for `integer` schemas and writes them "5.0",
    # which names no id; send them as the integers they are.
    for parameters in (case.path_parameters, case.query):
        for name, value in (parameters or {}).items():
            if isinstance(value, float) and value.is_integer():
                parameters[name] = int(value)
    if meta is not None and meta.phase.name == "stateful" and case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    if not REAL_IDS or meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    for name, ids in REAL_IDS.items():
        value = case.body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            case.body[name] = ids[value % len(ids)]
    return case


# How schemathesis names the property a negative case left out of a JSON body.
MISSING_PROPERTY = re.compile(r"Invalid component: Missing required property: (\S+)\s*$")


def required_body_properties(case):
    """The properties the operation's JSON request body lists as `required` (through one
    `$ref`), or `None` when that cannot be read."""
    try:
        schema = case.operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = case.operation.schema.raw_schema["components"]["schemas"][name]
        return set(schema.get("required", []))
    except (AttributeError, KeyError, TypeError):
        return None


def claims_an_optional_property_missing(failure, case):
    """Whether `failure` says a request was invalid for leaving out a property the document does
    not require. Schemathesis 4.32's coverage phase once built such a "negative" case for
    `create_field` (`options`, which only a select field has and the document lists as optional):
    the request is valid by the document, so accepting it is the contract, not a failure."""
    found = MISSING_PROPERTY.search(failure.message or "")
    if found is None:
        return False
    required = required_body_properties(case)
    return required is not None and found.group(1) not in required


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure except a `422` to a schema-valid request whose named fields are all
    state-dependent refusals, a signed webhook's `400 invalid-signature`, a `503` the contract
    gives for a state (see the module docstring), or a "negative" case that the document itself
    allows (see `claims_an_optional_property_missing`)."""
    if isinstance(failure, AcceptedNegativeData):
        return not claims_an_optional_property_missing(failure, case)
    if isinstance(failure, ServerError) and response.status_code == 503:
        try:
            problem_type = str(json.loads(response.content).get("type", ""))
        except (ValueError, AttributeError):
            return True
        return not any(problem_type.endswith(t) for t in STATE_UNAVAILABLE)
    if not isinstance(failure, RejectedPositiveData):
        return True
    # A signature or an unsubscribe token no client could compute is refused with its own type;
    # any other `400` of those operations (a NUL in the token, say) is judged like every other.
    operation_id = case.operation.definition.raw.get("operationId")
    signed_refusal = {**dict.fromkeys(SIGNED_OPERATIONS, INVALID_SIGNATURE),
                      **dict.fromkeys(UNSUBSCRIBE_OPERATIONS, INVALID_UNSUBSCRIBE)}.get(operation_id)
    if response.status_code == 400 and signed_refusal is not None:
        try:
            if str(json.loads(response.content).get("type", "")).endswith(signed_refusal):
                return False
        except (ValueError, AttributeError):
            return True
    if response.status_code not in (400, 422):
        return True
    try:
        errors = json.loads(response.content).get("errors") or []
        named = {(error["field"], error["message"]) for error in errors}
    except (ValueError, AttributeError, KeyError, TypeError):
        return True
    named = {(field, message) for field, message in named if message != NUL_REFUSAL}
    if not named and errors:
        return False
    named = {
        (field, message)
        for field, message in named
        if not (field == LANGUAGE_FIELD and message.startswith(LANGUAGE_TERM))
    }
    if not named and errors:
        return False
    # A custom field's value is checked against the fields of the task's project, which the
    # schema cannot state (a personal task has none).
    named = {(field, message) for field, message in named if not field.startswith(FIELD_VALUE)}
    if not named and errors:
        return False
    return not (response.status_code == 422 and named and named <= STATE_DEPENDENT_REFUSALS)

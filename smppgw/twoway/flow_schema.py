"""The JSON Schema (draft 2020-12) of a flow, as ``PUT /v1/flows/{name}`` takes it and
as a flow file is written (TOML is the same structure). Published as
``docs/flow.schema.json`` (``python -m smppgw.twoway.flow_schema > docs/flow.schema.json``;
a test keeps the two equal) and served by ``GET /v1/flows/schema``.

The schema checks the shape: keys, types, sizes, patterns. What needs the whole flow
(unreachable steps, unknown targets, cycles with no way out, unknown vars) is checked
by ``flow_config.parse_flow``, whose errors name the step.
"""

from __future__ import annotations

import json
from typing import Any, Final

from smppgw.twoway.flow_config import (
    ACTION_KEYS,
    EVENT_TYPE,
    EXPECT_KINDS,
    KEYWORD,
    LIMITS,
    NAME,
    QUEUE,
    RESERVED_EVENTS,
    STEP_NAME,
    VAR_NAME,
)
from smppgw.twoway.flow_model import END_STATUSES

__all__ = ["SCHEMA", "schema_json"]


def _re(pattern: Any) -> str:
    return f"^{pattern.pattern}$"


_TEXT: Final = {"type": "string", "maxLength": LIMITS["text"]}
_STEP_REF: Final = {"type": "string", "pattern": _re(STEP_NAME), "description": "a step's name"}
_DURATION: Final = {
    "description": 'seconds, or "24h", "90m", "1h30m", "2d" (1 second to 30 days)',
    "anyOf": [
        {"type": "number", "minimum": 1, "maximum": 30 * 86400},
        {"type": "string", "pattern": r"^(\s*\d{1,7}(\.\d{1,6})?\s*[dhmsDHMS]){1,4}\s*$"},
    ],
}
_WHEN: Final = {
    "description": 'when: "2 days before {slot}", "1h after {slot}", "at {slot}", "+1h" (from now), '
    'or {"var": "slot", "offset": "-2d"}',
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 100},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "var": {"type": "string", "pattern": _re(VAR_NAME)},
                "offset": {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 40}]},
            },
        },
    ],
}
_LATE: Final = {"enum": ["skip", "now"], "description": "when that time has passed already"}


def _action(kind: str, value: dict[str, Any], extra: dict[str, Any], description: str) -> dict[str, Any]:
    assert set(extra) == ACTION_KEYS[kind], kind  # the schema follows the parser's keys
    return {
        "type": "object",
        "description": description,
        "required": [kind],
        "additionalProperties": False,
        "properties": {kind: value, **extra},
    }


_ACTIONS: Final = [
    _action("send", _TEXT, {"at": _WHEN, "late": _LATE}, "send a text now, or at a time"),
    _action(
        "emit",
        {
            "type": "string",
            "pattern": _re(EVENT_TYPE),
            "not": {"pattern": f"^({'|'.join(RESERVED_EVENTS)})(\\.|$)"},
            "description": "not one of the gateway's own event types",
        },
        {
            "data": {
                "type": "object",
                "maxProperties": LIMITS["data"],
                "additionalProperties": {"type": "string", "maxLength": 500},
            }
        },
        "write an event",
    ),
    _action(
        "handoff",
        {"type": "string", "pattern": _re(QUEUE)},
        {"note": _TEXT},
        "hand the thread to a human queue; the run ends handoff",
    ),
    _action(
        "voucher",
        {"type": "string", "pattern": _re(NAME), "description": "the pool"},
        {"var": {"type": "string", "pattern": _re(VAR_NAME)}, "on_empty": _STEP_REF},
        "issue the next code of a pool into a var (default code)",
    ),
    _action("end", {"enum": list(END_STATUSES)}, {}, "end the run"),
    _action("goto", _STEP_REF, {"at": _WHEN, "late": _LATE}, "go to a step now, or at a time"),
]

_OPTION: Final = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 160, "description": "a numbered option's label"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "key": {
                    "type": "string",
                    "pattern": _re(STEP_NAME),
                    "description": "a keyword option's answer",
                },
                "label": {"type": "string", "maxLength": 160},
                "words": {
                    "type": "array",
                    "maxItems": 20,
                    "items": {"type": "string", "minLength": 1, "maxLength": 64},
                },
            },
        },
    ]
}


def _only_with(kind: str, keys: list[str]) -> dict[str, Any]:
    """``keys`` are allowed only when ``expect`` is ``kind``."""
    return {
        "if": {"not": {"required": ["expect"], "properties": {"expect": {"const": kind}}}},
        "then": {"not": {"anyOf": [{"required": [k]} for k in keys]}},
    }


_STEP: Final = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "prompt": {**_TEXT, "description": "sent on entering the step; {var}s and {options} filled"},
        "expect": {"enum": list(EXPECT_KINDS), "default": "none"},
        "options": {"type": "array", "minItems": 1, "maxItems": LIMITS["options"], "items": _OPTION},
        "min": {"type": "integer", "minimum": 0, "maximum": 9999, "default": 0},
        "max": {"type": "integer", "minimum": 0, "maximum": 9999, "default": 10},
        "slots": {
            "description": 'ISO 8601 date-times with their zone, or "{var}" holding them',
            "anyOf": [
                {"type": "array", "minItems": 1, "maxItems": LIMITS["slots"], "items": {"type": "string"}},
                {"type": "string", "pattern": r"^\s*\{[a-z_][a-z0-9_]{0,31}\}\s*$"},
            ],
        },
        "var": {"type": "string", "pattern": _re(VAR_NAME), "description": "where the answer is kept"},
        "on": {
            "type": "object",
            "description": 'answer -> step: an option\'s key, a number or range ("0-6", "<7", ">=7")',
            "additionalProperties": _STEP_REF,
        },
        "next": _STEP_REF,
        "reprompt": _TEXT,
        "attempts": {"type": "integer", "minimum": 0, "maximum": LIMITS["attempts"], "default": 1},
        "timeout": _DURATION,
        "on_timeout": _STEP_REF,
        "on_invalid": _STEP_REF,
        "actions": {"type": "array", "maxItems": LIMITS["actions"], "items": {"oneOf": _ACTIONS}},
    },
    "allOf": [
        _only_with("choice", ["options"]),
        _only_with("number", ["min", "max"]),
        _only_with("slot", ["slots"]),
        {
            "if": {"required": ["expect"], "properties": {"expect": {"const": "choice"}}},
            "then": {"required": ["options"]},
        },
        {
            "if": {"required": ["expect"], "properties": {"expect": {"const": "slot"}}},
            "then": {"required": ["slots"]},
        },
    ],
}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "flow.schema.json",
    "title": "smppgw flow",
    "description": "A multi-step SMS dialogue: PUT /v1/flows/{name}, [[twoway.flow]], or a file of twoway.flows_dir.",
    "type": "object",
    "required": ["steps"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "pattern": _re(NAME),
            "description": "required in config; the URL's in the API",
        },
        "description": {"type": "string", "maxLength": 500},
        "keywords": {
            "type": "array",
            "maxItems": LIMITS["keywords"],
            "items": {"type": "string", "pattern": _re(KEYWORD)},
            "description": 'words that start it ("BOOK"); "HELP" makes it the triage flow',
        },
        "campaign": {"type": "string", "pattern": _re(NAME)},
        "start": {**_STEP_REF, "description": "the first step (default: the first one written)"},
        "vars": {
            "type": "object",
            "maxProperties": LIMITS["vars"],
            "propertyNames": {"pattern": _re(VAR_NAME)},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": 2000},
                    {"type": "array", "items": {"type": "string", "maxLength": 64}},
                ]
            },
            "description": "the vars known before any answer, with their defaults",
        },
        "steps": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": LIMITS["steps"],
            "propertyNames": {"pattern": _re(STEP_NAME)},
            "additionalProperties": {"$ref": "#/$defs/step"},
        },
    },
    "$defs": {"step": _STEP},
}


def schema_json() -> str:
    """``docs/flow.schema.json``'s text."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_json(), end="")

"""Software template entities (`scaffolder.backstage.io/v1beta3`): parameter steps, validation, task specs.

A template's `spec.parameters` is one JSON Schema form step or a list of them; the frontend renders each
with RJSF (`ui:*` keys are the uiSchema, ignored by validation). Submitted values are validated against
every step as Backstage's task router does, and errors come back in the shape of its 400 body
(`{errors: [{path, property, message, name, argument, stack, ...}]}`, messages of the npm `jsonschema`
package). `build_task_spec` produces the TaskSpec v1beta3 the runner executes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft7Validator, FormatChecker, SchemaError, ValidationError
from jsonschema.validators import validator_for

from ..catalog.model import validate_entity
from ..catalog.refs import entity_ref
from .masking import MASK

TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
DEFAULT_STEP_TITLE = "Please enter the following information"
_IDENTIFIER = re.compile(r"^[a-zA-Z_$][a-zA-Z0-9_$]*$")


class TemplateValuesError(Exception):
    """Submitted values that do not satisfy a parameter step; `body` is Backstage's 400 response."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(e["stack"] for e in errors) or "invalid values")

    @property
    def body(self) -> dict[str, Any]:
        return {"errors": self.errors}


def is_template(entity: Any) -> bool:
    return isinstance(entity, Mapping) and entity.get("kind") == "Template" \
        and entity.get("apiVersion") == TEMPLATE_API_VERSION


def _spec(entity: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = entity.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def parameter_steps(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The form steps: `[{title, description, schema}]` (one step when `parameters` is an object)."""
    parameters = _spec(entity).get("parameters") or []
    schemas = parameters if isinstance(parameters, list) else [parameters]
    steps = []
    for schema in schemas:
        schema = schema if isinstance(schema, Mapping) else {}
        title = schema.get("title")
        step: dict[str, Any] = {"title": DEFAULT_STEP_TITLE if title is None else title,
                                "schema": dict(schema)}
        if schema.get("description") is not None:
            step["description"] = schema["description"]
        steps.append(step)
    return steps


def parameter_schema(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The body of `GET /v2/templates/:namespace/:kind/:name/parameter-schema`."""
    metadata = entity.get("metadata") or {}
    spec = _spec(entity)
    body: dict[str, Any] = {"title": metadata.get("title") or metadata.get("name")}
    if spec.get("presentation"):
        body["presentation"] = spec["presentation"]
    if metadata.get("description") is not None:
        body["description"] = metadata["description"]
    if metadata.get("ui:options") is not None:
        body["ui:options"] = metadata["ui:options"]
    body["steps"] = parameter_steps(entity)
    decorators = spec.get("formDecorators") or spec.get("EXPERIMENTAL_formDecorators")
    if decorators is not None:
        body["formDecorators"] = decorators
    return body


# -- JSON Schema errors in the shape of the npm `jsonschema` package ----------------------------------------

def _property(path: Iterator[Any] | list[Any]) -> str:
    text = "instance"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            text += f".{part}"
        else:
            text += f"[{json.dumps(str(part))}]"
    return text


def _js(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_js(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return "null" if value is None else str(value)


def _message(error: ValidationError) -> tuple[str, list[Any], Any]:
    """(message, path, argument) as the npm package reports the error."""
    keyword, expected, path = error.validator, error.validator_value, list(error.absolute_path)
    if keyword == "required":
        # jsonschema reports each missing property as its own error: "'name' is a required property"
        named = re.match(r"^'(.*)' is a required property$", error.message)
        missing = named.group(1) if named else next(
            (name for name in expected if isinstance(error.instance, Mapping) and name not in error.instance), "")
        return f"requires property {json.dumps(missing)}", path, missing
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set((error.schema.get("properties") or {}).keys())
        patterns = [re.compile(p) for p in (error.schema.get("patternProperties") or {})]
        extra = next((k for k in error.instance
                      if k not in allowed and not any(p.search(k) for p in patterns)), "")
        return f"is not allowed to have the additional property {json.dumps(extra)}", path, extra
    types = expected if isinstance(expected, list) else [expected]
    messages = {
        "type": f"is not of a type(s) {','.join(str(t) for t in types)}",
        "enum": f"is not one of enum values: {_js(expected)}",
        "const": f"does not exactly match expected constant: {_js(expected)}",
        "pattern": f"does not match pattern {json.dumps(str(expected))}",
        "format": f"does not conform to the {json.dumps(expected)} format",
        "minLength": f"does not meet minimum length of {expected}",
        "maxLength": f"does not meet maximum length of {expected}",
        "minItems": f"does not meet minimum length of {expected}",
        "maxItems": f"does not meet maximum length of {expected}",
        "minimum": f"must be greater than or equal to {expected}",
        "maximum": f"must be less than or equal to {expected}",
        "exclusiveMinimum": f"must be greater than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "multipleOf": f"is not a multiple of (divisible by) {expected}",
        "uniqueItems": "contains duplicate item",
        "minProperties": f"does not meet minimum property length of {expected}",
        "maxProperties": f"does not meet maximum property length of {expected}",
        "anyOf": "is not any of the subschemas",
        "oneOf": "is not exactly one from the subschemas",
        "not": "is of prohibited type",
    }
    return messages.get(str(keyword), error.message), path, expected


def schema_errors(instance: Any, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every violation of `schema` by `instance`, as npm `jsonschema`'s ValidationError objects serialize."""
    validator_class = validator_for(schema, default=Draft7Validator)
    validator = validator_class(schema, format_checker=FormatChecker())
    errors = []
    for error in validator.iter_errors(instance):
        message, path, argument = _message(error)
        prop = _property(path)
        errors.append({"path": path, "property": prop, "message": message, "schema": error.schema,
                       "instance": error.instance, "name": str(error.validator), "argument": argument,
                       "stack": f"{prop} {message}"})
    return errors


def validate_values(entity: Mapping[str, Any], values: Any) -> None:
    """Check submitted values against each parameter step in turn; raises TemplateValuesError at the first
    step that fails (Backstage answers 400 with that step's errors)."""
    if not isinstance(values, Mapping):
        raise TemplateValuesError([{"path": [], "property": "instance",
                                    "message": "is not of a type(s) object", "name": "type",
                                    "argument": ["object"],
                                    "stack": "instance is not of a type(s) object"}])
    for step in parameter_steps(entity):
        try:
            errors = schema_errors(values, step["schema"])
        except SchemaError as exc:
            raise TemplateValuesError([{"path": [], "property": "schema", "message": exc.message,
                                        "name": "schema", "argument": None,
                                        "stack": f"invalid parameter schema: {exc.message}"}]) from None
        if errors:
            raise TemplateValuesError(errors)


# -- template structure ----------------------------------------------------------------------------------

def task_steps(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps with Backstage's defaults: id `step-<n>` (1-based), name = the action id."""
    steps = _spec(entity).get("steps") or []
    result = []
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        step = dict(step) if isinstance(step, Mapping) else {}
        step["id"] = step.get("id") or f"step-{index + 1}"
        step["name"] = step.get("name") or step.get("action")
        result.append(step)
    return result


def check_template(entity: Any) -> list[tuple[str, str]]:
    """Problems that would stop the template from running, as (field, message); empty if it can run."""
    problems = [(e.field, e.message) for e in validate_entity(entity)]
    if not isinstance(entity, Mapping):
        return problems
    if entity.get("apiVersion") != TEMPLATE_API_VERSION:
        problems.append(("apiVersion",
                         f"Unsupported apiVersion field in schema entity, {entity.get('apiVersion')}"))
    spec = _spec(entity)
    parameters = spec.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping | list):
        problems.append(("spec.parameters", "must be an object or an array of objects"))
    for index, step in enumerate(parameter_steps(entity)):
        field = f"spec.parameters[{index}]" if isinstance(parameters, list) else "spec.parameters"
        if isinstance(parameters, list) and not isinstance(parameters[index], Mapping):
            problems.append((field, "must be an object"))
            continue
        try:
            validator_for(step["schema"], default=Draft7Validator).check_schema(step["schema"])
        except SchemaError as exc:
            at = ".".join(str(p) for p in exc.absolute_path)
            problems.append((f"{field}.{at}" if at else field, f"invalid JSON Schema: {exc.message}"))
    seen: dict[str, int] = {}
    raw_steps = spec.get("steps")
    for index, step in enumerate(raw_steps if isinstance(raw_steps, list) else []):
        if not isinstance(step, Mapping):
            continue
        step_id = step.get("id") or f"step-{index + 1}"
        if step_id in seen:
            problems.append((f"spec.steps[{index}].id",
                             f"duplicate step id {step_id!r} (also used by spec.steps[{seen[step_id]}])"))
        seen.setdefault(str(step_id), index)
        each = step.get("each")
        if each is not None and not isinstance(each, str | list | Mapping):
            problems.append((f"spec.steps[{index}].each", "must be a template string, an array or an object"))
    return problems


def base_url_of(entity: Mapping[str, Any]) -> str:
    """The URL relative `url:` inputs resolve against (Backstage's getEntityBaseUrl): the target of the
    `backstage.io/source-location` annotation, else of `backstage.io/managed-by-location`."""
    annotations = (entity.get("metadata") or {}).get("annotations") or {}
    value = annotations.get("backstage.io/source-location") \
        or annotations.get("backstage.io/managed-by-location")
    kind, _, target = str(value or "").partition(":")
    if kind == "url":
        return target
    return f"file://{target}" if kind == "file" else ""


def build_task_spec(entity: Mapping[str, Any], values: Mapping[str, Any], *, user_ref: str | None = None,
                    user_entity: Mapping[str, Any] | None = None, base_url: str | None = None,
                    entity_ref_text: str | None = None) -> dict[str, Any]:
    """TaskSpec v1beta3 for running `entity` with `values` (already validated)."""
    spec = _spec(entity)
    template_info: dict[str, Any] = {
        "entityRef": entity_ref_text or entity_ref(entity).canonical,
        "baseUrl": base_url if base_url is not None else base_url_of(entity),
        "entity": {"metadata": copy.deepcopy(dict(entity.get("metadata") or {}))},
    }
    task_spec: dict[str, Any] = {
        "apiVersion": entity.get("apiVersion", TEMPLATE_API_VERSION),
        "steps": task_steps(entity),
        "output": copy.deepcopy(dict(spec.get("output") or {})),
        "parameters": copy.deepcopy(dict(values)),
        "user": {"entity": copy.deepcopy(dict(user_entity)) if user_entity else None, "ref": user_ref},
        "templateInfo": template_info,
    }
    if spec.get("EXPERIMENTAL_recovery") is not None:
        task_spec["EXPERIMENTAL_recovery"] = spec["EXPERIMENTAL_recovery"]
    return task_spec


# -- masked parameters ------------------------------------------------------------------------------------

def _is_masked(schema: Mapping[str, Any]) -> bool:
    if schema.get("ui:field") == "Secret" or schema.get("ui:widget") == "password":
        return True
    review = (schema.get("ui:backstage") or {}).get("review") if isinstance(schema.get("ui:backstage"),
                                                                              Mapping) else None
    return isinstance(review, Mapping) and bool(review.get("mask"))


def _masked_paths(schema: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if not isinstance(schema, Mapping):
        return
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, Mapping):
            if _is_masked(prop):
                yield (*prefix, name)
            yield from _masked_paths(prop, (*prefix, name))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            yield from _masked_paths(sub, prefix)
    for key in ("then", "else"):
        yield from _masked_paths(schema.get(key), prefix)
    for dependency in (schema.get("dependencies") or {}).values():
        yield from _masked_paths(dependency, prefix)


def masked_parameter_paths(entity: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Paths of parameters whose values must never be shown (`ui:field: Secret`, `ui:widget: password`,
    `ui:backstage: {review: {mask: ...}}`)."""
    paths: list[tuple[str, ...]] = []
    for step in parameter_steps(entity):
        for path in _masked_paths(step["schema"], ()):
            if path not in paths:
                paths.append(path)
    return paths


def _lookup(values: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(values, Mapping) or part not in values:
            return None
        values = values[part]
    return values


def masked_values(entity: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """The submitted values of masked parameters, for the task's Masker."""
    found = []
    for path in masked_parameter_paths(entity):
        value = _lookup(values, path)
        if value is not None and value != "":
            found.append(value if isinstance(value, str) else json.dumps(value))
    return found


def redact_values(entity: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `values` with masked parameters replaced by `***` (for showing a task's parameters)."""
    result = copy.deepcopy(dict(values))
    for path in masked_parameter_paths(entity):
        parent: Any = result
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = MASK
    return result


def example_output(schema: Any) -> Any:
    """An example value for an output schema (what a dry run gives a step it skips), as Backstage does."""
    if not isinstance(schema, Mapping):
        return "<unknown>"
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    kind = schema.get("type")
    if kind == "object":
        return {key: example_output(value) for key, value in (schema.get("properties") or {}).items()}
    if kind == "array":
        items = schema.get("items")
        first = items[0] if isinstance(items, list) and items else items
        return [example_output(first)] if first else []
    if kind == "string":
        return "<example>"
    if kind in ("number", "integer"):
        return 0
    if kind == "boolean":
        return False
    return "<unknown>"

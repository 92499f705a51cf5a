"""How settings are read: the environment source, the marks a field may carry, and pydantic's
errors as sentences naming the variable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated

from pydantic import ValidationInfo
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode

# A field's `json_schema_extra` marks: a blank value is kept (not the default); the variable is read
# from the process environment only (not a Parley setting, so not in `.env.example`); the sentence
# shown when a required variable is unset.
KEEP_BLANK = "keep_blank"
PROCESS_ONLY = "process_only"
WHEN_MISSING = "when_missing"

# The mapping `Settings.from_env` was handed instead of the process environment (tests, tools).
ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("parley_environ", default=None)


class Environment(EnvSettingsSource):
    """The process environment, or the mapping handed to `Settings.from_env`."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = ENVIRON.get()
        # Names are case-sensitive and blanks are handled by the fields, so the mapping is used as is.
        return super()._load_env_vars() if environ is None else dict(environ)


def split(value: str) -> tuple[str, ...]:
    """A comma-separated variable's non-empty entries."""
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())


CommaList = Annotated[tuple[str, ...], NoDecode]


def mark(info: FieldInfo, name: str) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(name))


def variable(settings: type[BaseSettings], info: ValidationInfo) -> str:
    return str(settings.model_fields[str(info.field_name)].validation_alias)


# pydantic's error types, as sentences naming the variable (the input is never a secret here).
_SENTENCES = {
    "int_parsing": "{name} must be a whole number, not {input!r}.",
    "int_from_float": "{name} must be a whole number, not {input!r}.",
    "float_parsing": "{name} must be a number, not {input!r}.",
    "bool_parsing": "{name} must be true or false, not {input!r}.",
    "greater_than_equal": "{name} must be at least {ge:g}, not {input}.",
}


def sentence(error: ErrorDetails, variables: Iterable[tuple[str, FieldInfo]]) -> str:
    """One problem as the person configuring Parley should read it."""
    name = ".".join(str(part) for part in error["loc"])
    context = error.get("ctx", {})
    if error["type"] == "value_error":
        return str(context["error"])
    if error["type"] == "missing":
        field = next((info for variable, info in variables if variable == name), None)
        extra = field.json_schema_extra if field is not None else None
        hint = extra.get(WHEN_MISSING) if isinstance(extra, dict) else None
        return str(hint) if hint else f"{name} is not set."
    template = _SENTENCES.get(error["type"])
    if template is None:
        return f"{name}: {error['msg']}."
    return template.format(name=name, input=error["input"], **context)

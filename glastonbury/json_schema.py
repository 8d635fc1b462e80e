"""pydantic's JSON schema of the services' models, as their OpenAPI documents show it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field
from pydantic.json_schema import GenerateJsonSchema

Schema = dict[str, Any]

# Ids and times as the answers carry them: text, in a format the documents name.
UuidText = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
TimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class DocumentedJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema as the documents show it.

    A Decimal is read only from a JSON number (`glastonbury.web.json_number`): a number, its
    decimal places a `multipleOf`. A constraint written after a validator (`Annotated[Decimal,
    BeforeValidator(...), Field(ge=0)]`) reaches the schema under its Python name (`ge`), as
    pydantic does: renamed to JSON Schema's. A field's title would only repeat its name.
    """

    def generate_inner(self, schema: Any) -> Schema:
        json_schema = super().generate_inner(schema)
        if json_schema.keys() & PYTHON_NAMES.keys():
            json_schema = {**{key: value for key, value in json_schema.items()
                              if key not in PYTHON_NAMES}, **_numeric(json_schema)}
        return json_schema

    def decimal_schema(self, schema: Any) -> Schema:
        if self.mode == "serialization":
            return super().decimal_schema(schema)
        return {"type": "number", **_numeric(schema)}

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


# Numeric constraints by their Python (pydantic) names, and the JSON Schema keyword of each.
PYTHON_NAMES = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum",
                "lt": "exclusiveMaximum", "multiple_of": "multipleOf",
                "decimal_places": "multipleOf"}


def _numeric(constraints: Mapping[str, Any]) -> Schema:
    """The JSON Schema keywords of the numeric constraints among `constraints`."""
    keywords = {}
    for name, keyword in PYTHON_NAMES.items():
        value = constraints.get(name)
        if value is None:
            continue
        number = Decimal(1).scaleb(-value) if name == "decimal_places" else Decimal(str(value))
        keywords[keyword] = (int(number) if number == number.to_integral_value()
                             else float(number))
    return keywords

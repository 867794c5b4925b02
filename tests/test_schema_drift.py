"""The committed schema.graphql must match the schema the code builds."""

from pathlib import Path

from dajian.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_is_current():
    current = str(schema).strip() + "\n"
    assert SCHEMA_FILE.exists(), "run `make schema` to write schema.graphql"
    assert SCHEMA_FILE.read_text() == current, (
        "schema.graphql is out of date: run `make schema` and commit the result"
    )

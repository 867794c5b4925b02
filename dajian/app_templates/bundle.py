"""App template bundles: a manifest and JSON documents, on disk or in memory.

A bundle is a folder (docs/templates.md)::

    manifest.json
    forms/<form>.json  workflows/<form>.json  approval_chains/<chain>.json
    automations/<automation>.json  dashboards/<dashboard>.json
    sample/<form>.json              optional fixed sample rows
    README.md                       optional, not part of the content

:func:`load_bundle` reads one and checks it without touching the database: the manifest
against ``manifest.schema.json``, every listed file present and no other file, size
limits, and every document against the same meta-schemas builder edits use. Every
problem is reported at once, at a path naming the file (``forms/customer.json:
fields.3.type``). What needs the workspace (roles, published forms) is checked by the
builder services when the installer saves the documents.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from django.conf import settings

from dajian.app_templates.errors import TemplateErrorCode as Code
from dajian.app_templates.errors import in_document, template_error
from dajian.builder.checks import check_form_definition
from dajian.builder.jsonschema import SCHEMA_DIR, compile_schema, iter_errors
from dajian.builder.metadata.checks_chain import check_chain_shape
from dajian.builder.metadata.checks_workflow import check_workflow_shape, shape_errors
from dajian.builder.services.metadata import AUTOMATION_LIMITS
from dajian.platform.audit import canonical_hash
from dajian.platform.errors import DajianError, ErrorDetail, not_found

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
# Manifest list → folder, in install order after the roles: a workflow may name a chain,
# an automation a dashboard (push_dashboard).
KINDS = ("forms", "approval_chains", "workflows", "dashboards", "automations")
SAMPLE = "sample"
IGNORED = frozenset({"README.md"})
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
MAX_FILES = 1000
MAX_SAMPLE_ROWS = 10_000
UNREADABLE: Any = object()  # a file that is not JSON (already reported)


@cache
def _manifest_validator() -> Any:
    return compile_schema(json.loads((TEMPLATES_DIR / "manifest.schema.json").read_text()))


@dataclass
class Bundle:
    """A checked bundle: its manifest and its documents by path (``forms/x.json``)."""

    manifest: dict[str, Any]
    documents: dict[str, Any]
    source: Path | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return str(self.manifest["key"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of ``{"manifest", "documents"}``."""
        return canonical_hash({"manifest": self.manifest, "documents": self.documents})

    def keys(self, kind: str) -> list[str]:
        """The manifest's keys of ``kind`` (``forms``, ``workflows``...), in order."""
        return list(self.manifest.get(kind, []))

    def document(self, kind: str, key: str) -> Any:
        return self.documents[document_path(kind, key)]

    def roles(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("roles", []))

    def sample_rows(self, form_key: str) -> list[dict[str, Any]]:
        """The fixed sample rows of a form as data objects (``[]`` when none)."""
        rows = self.documents.get(document_path(SAMPLE, form_key)) or []
        return [row["data"] if set(row) == {"data"} else row for row in rows]

    def contents(self) -> dict[str, list[str]]:
        """What the bundle holds, for the app market: keys per kind, and role keys."""
        return {
            **{kind: self.keys(kind) for kind in KINDS},
            "roles": [r["key"] for r in self.roles()],
        }

    def as_json(self) -> dict[str, Any]:
        """The bundle as one JSON object (``exportApp``)."""
        return {"manifest": self.manifest, "documents": self.documents, "hash": self.hash}

    def write(self, directory: str | Path) -> Path:
        """Write the bundle as files under ``directory`` (created if needed). A folder
        that already holds a bundle has its bundle files replaced; any other non-empty
        folder is refused, so nothing unrelated is overwritten."""
        target = Path(directory)
        if target.exists() and any(target.iterdir()):
            if not (target / MANIFEST).is_file():
                raise DajianError.single(
                    "INVALID_INPUT", f"{target} is not empty and holds no bundle.", "out"
                )
            (target / MANIFEST).unlink()
            for folder in (*KINDS, SAMPLE):
                shutil.rmtree(target / folder, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        for name, value in ((MANIFEST, self.manifest), *sorted(self.documents.items())):
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
        return target


def document_path(kind: str, key: str) -> str:
    return f"{kind}/{key}.json"


# --- finding bundles --------------------------------------------------------------------


def template_roots() -> list[Path]:
    """Folders whose sub-folders are bundles: the shipped templates, then any listed in
    ``settings.DAJIAN["TEMPLATE_DIRS"]``."""
    extra = settings.DAJIAN.get("TEMPLATE_DIRS") or ()
    return [TEMPLATES_DIR, *(Path(p) for p in extra)]


def available_templates() -> list[Bundle]:
    """Every valid bundle under :func:`template_roots`, by key (the first root wins);
    a broken bundle is logged and left out."""
    found: dict[str, Bundle] = {}
    for root in template_roots():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.name in found or not (folder / MANIFEST).is_file():
                continue
            try:
                found[folder.name] = load_bundle(folder)
            except DajianError as exc:
                logger.warning("app template %s is invalid: %s", folder, exc)
    return [found[key] for key in sorted(found)]


def locate(path_or_key: str | Path) -> Path:
    """The folder of a template key (searched in :func:`template_roots`) or a path."""
    text = str(path_or_key)
    if "/" not in text and "\\" not in text:
        for root in template_roots():
            if (root / text / MANIFEST).is_file():
                return root / text
    path = Path(path_or_key)
    is_path = isinstance(path_or_key, Path) or path.is_absolute() or "/" in text
    if is_path and (path / MANIFEST).is_file():
        return path
    raise not_found("App template")


# --- loading and checking ---------------------------------------------------------------


def load_bundle(path_or_key: str | Path) -> Bundle:
    """Read and check the bundle at a path or of a template key; raises
    :class:`DajianError` with every problem (``NOT_FOUND`` when there is no bundle)."""
    directory = locate(path_or_key)
    raw, errors = _read_files(directory)
    parsed: dict[str, Any] = {}
    for name, data in raw.items():
        try:
            parsed[name] = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            errors.append(template_error(Code.INVALID_JSON, name, detail=str(exc)))
            parsed[name] = UNREADABLE
    manifest = parsed.pop(MANIFEST, UNREADABLE)
    if manifest is not UNREADABLE:
        errors.extend(check_bundle(manifest, parsed))
        if not errors and _from_roots(directory) and manifest["key"] != directory.name:
            errors.append(
                template_error(
                    Code.KEY_MISMATCH,
                    MANIFEST,
                    "key",
                    name="key",
                    found=manifest["key"],
                    expected=directory.name,
                )
            )
    if errors:
        raise DajianError(errors)
    return Bundle(manifest=manifest, documents=parsed, source=directory)


def bundle_from_json(payload: Any) -> Bundle:
    """A bundle from its JSON form (:meth:`Bundle.as_json`), checked like one on disk."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("documents"), Mapping):
        raise DajianError(
            template_error(Code.INVALID_MANIFEST, "bundle", detail="{manifest, documents}")
        )
    documents = dict(payload["documents"])
    size = len(json.dumps(documents, ensure_ascii=False).encode())
    if size > MAX_BUNDLE_BYTES:
        raise DajianError(template_error(Code.BUNDLE_TOO_LARGE, "bundle", limit=MAX_BUNDLE_BYTES))
    errors = check_bundle(payload.get("manifest"), documents)
    if errors:
        raise DajianError(errors)
    return Bundle(manifest=dict(payload["manifest"]), documents=documents)


def _from_roots(directory: Path) -> bool:
    return any(directory.parent.resolve() == root.resolve() for root in template_roots())


def _read_files(directory: Path) -> tuple[dict[str, bytes], list[ErrorDetail]]:
    """Every file of the bundle by relative path; files outside the layout are errors."""
    files: dict[str, bytes] = {}
    errors: list[ErrorDetail] = []
    for path, name in _entries(directory):
        allowed = name == MANIFEST or (
            path.is_file() and name.count("/") == 1 and name.endswith(".json")
        )
        if not allowed:
            errors.append(template_error(Code.UNLISTED_FILE, name, name=name))
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            errors.append(template_error(Code.FILE_TOO_LARGE, name, limit=MAX_FILE_BYTES))
            continue
        files[name] = path.read_bytes()
    if sum(len(data) for data in files.values()) > MAX_BUNDLE_BYTES:
        errors.append(template_error(Code.BUNDLE_TOO_LARGE, "bundle", limit=MAX_BUNDLE_BYTES))
    if len(files) > MAX_FILES:
        errors.append(template_error(Code.BUNDLE_TOO_LARGE, "bundle", limit=f"{MAX_FILES} files"))
    if MANIFEST not in files and not errors:
        errors.append(template_error(Code.MISSING_FILE, MANIFEST, name=MANIFEST))
    return files, errors


def _entries(directory: Path) -> Iterator[tuple[Path, str]]:
    """The bundle's top-level entries and the entries of its document folders (hidden
    files and README.md are skipped)."""
    for top in sorted(directory.iterdir()):
        if top.name.startswith(".") or top.name == "__pycache__" or top.name in IGNORED:
            continue
        if top.is_dir() and top.name in (*KINDS, SAMPLE):
            for child in sorted(top.iterdir()):
                if not child.name.startswith("."):
                    yield child, f"{top.name}/{child.name}"
        else:
            yield top, top.name


def check_bundle(manifest: Any, documents: Mapping[str, Any]) -> list[ErrorDetail]:
    """Every problem of a bundle that can be found without a workspace."""
    errors = [
        template_error(Code.INVALID_MANIFEST, MANIFEST, path, detail=message)
        if path
        else template_error(Code.INVALID_MANIFEST, MANIFEST, detail=message)
        for path, _code, message in iter_errors(_manifest_validator(), manifest)
    ]
    if errors:
        return errors
    errors.extend(_check_listing(manifest, documents))
    forms = set(manifest["forms"])
    roles = {r["key"] for r in manifest.get("roles", [])}
    for kind in KINDS:
        for key in manifest.get(kind, []):
            name = document_path(kind, key)
            if name in documents and documents[name] is not UNREADABLE:
                errors.extend(_check_document(kind, key, documents[name], forms, roles))
    for name, rows in documents.items():
        if name.startswith(f"{SAMPLE}/") and rows is not UNREADABLE:
            errors.extend(_check_sample(name, rows, forms))
    for form_key in manifest.get("sample_data", {}).get("weights", {}):
        if form_key not in forms:
            path = f"sample_data.weights.{form_key}"
            errors.append(template_error(Code.UNLISTED_FORM, MANIFEST, path, key=form_key))
    return errors


def _check_listing(manifest: Mapping[str, Any], documents: Mapping[str, Any]) -> list[ErrorDetail]:
    listed = {document_path(kind, key) for kind in KINDS for key in manifest.get(kind, [])}
    errors = [
        template_error(Code.MISSING_FILE, name, name=name)
        for name in sorted(listed - set(documents))
    ]
    forms = set(manifest["forms"])
    for name in sorted(set(documents) - listed):
        folder, _, file_name = name.partition("/")
        if folder == SAMPLE and file_name.removesuffix(".json") in forms:
            continue
        errors.append(template_error(Code.UNLISTED_FILE, name, name=name))
    return errors


def _check_document(
    kind: str, key: str, doc: Any, forms: set[str], roles: set[str]
) -> list[ErrorDetail]:
    name = document_path(kind, key)
    if kind == "forms":
        errors = in_document(name, check_form_definition(doc))
        if not errors and doc["key"] != key:
            errors = [_mismatch(name, "key", doc["key"], key)]
        return errors + _check_names(name, kind, doc, roles)
    errors = _shape(kind, doc)
    if errors:
        return in_document(name, errors)
    out: list[ErrorDetail] = []
    if kind == "workflows":
        if doc.get("form", key) != key:
            out.append(_mismatch(name, "form", doc["form"], key))
        if key not in forms:
            out.append(template_error(Code.UNLISTED_FORM, name, "", key=key))
    elif kind != "dashboards" and doc["form"] not in forms:
        out.append(template_error(Code.UNLISTED_FORM, name, "form", key=doc["form"]))
    if kind == "dashboards":
        for i, widget in enumerate(doc.get("widgets", [])):
            if isinstance(widget, Mapping) and widget.get("form") not in forms:
                where = f"widgets.{i}.form"
                out.append(template_error(Code.UNLISTED_FORM, name, where, key=widget.get("form")))
    return out + _check_names(name, kind, doc, roles)


def _shape(kind: str, doc: Any) -> list[ErrorDetail]:
    if kind == "workflows":
        return check_workflow_shape(doc)
    if kind == "approval_chains":
        return check_chain_shape(doc)
    if kind == "automations":
        return shape_errors("automation", doc, AUTOMATION_LIMITS)
    if (SCHEMA_DIR / "dashboard.schema.json").is_file():
        return shape_errors("dashboard", doc, {})
    return []


def _mismatch(name: str, what: str, found: Any, expected: str) -> ErrorDetail:
    return template_error(Code.KEY_MISMATCH, name, what, name=what, found=found, expected=expected)


def _check_names(name: str, kind: str, doc: Any, roles: set[str]) -> list[ErrorDetail]:
    """Roles the document names must be the manifest's; fixed users are refused."""
    errors = [
        template_error(Code.UNLISTED_ROLE, name, path, key=role)
        for path, role in mentioned_roles(kind, doc)
        if role not in roles
    ]
    errors.extend(
        template_error(Code.FIXED_USER, name, path)
        for path, node in _walk(doc, "")
        if node.get("type") == "user" and "users" in node
    )
    return errors


def mentioned_roles(kind: str, doc: Any) -> Iterator[tuple[str, str]]:
    """``(path, role key)`` of every role a document names: form permission rules,
    workflow transition roles, and ``{"type": "role", "role": ...}`` recipient specs."""
    if kind == "forms":
        for i, rule in enumerate(doc.get("permissions", [])):
            if rule.get("role") != "*":
                yield f"permissions.{i}.role", rule["role"]
    if kind == "workflows":
        for i, transition in enumerate(doc.get("transitions", [])):
            for j, role in enumerate(transition.get("roles", [])):
                yield f"transitions.{i}.roles.{j}", role
    for path, node in _walk(doc, ""):
        if node.get("type") == "role" and isinstance(node.get("role"), str):
            yield f"{path}.role" if path else "role", node["role"]


def _walk(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every JSON object inside ``node`` with its dotted path."""
    if isinstance(node, Mapping):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}.{i}" if path else str(i))


def _check_sample(name: str, rows: Any, forms: set[str]) -> list[ErrorDetail]:
    form_key = name.removeprefix(f"{SAMPLE}/").removesuffix(".json")
    if form_key not in forms:
        return [template_error(Code.UNLISTED_FORM, name, key=form_key)]
    if not isinstance(rows, list):
        return [template_error(Code.INVALID_SAMPLE, name, detail="a list of rows")]
    if len(rows) > MAX_SAMPLE_ROWS:
        return [template_error(Code.INVALID_SAMPLE, name, detail=f"≤ {MAX_SAMPLE_ROWS} rows")]
    return [
        template_error(Code.INVALID_SAMPLE, name, str(i), detail="each row is a JSON object")
        for i, row in enumerate(rows)
        if not isinstance(row, Mapping)
        or (set(row) == {"data"} and not isinstance(row["data"], Mapping))
    ]

"""Bundles: loading, checking (every problem at ``<file>: <path>``), hashing, writing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dajian.app_templates import bundle as bundle_module
from dajian.app_templates.bundle import (
    TEMPLATES_DIR,
    available_templates,
    bundle_from_json,
    load_bundle,
)
from dajian.platform.audit import canonical_hash
from dajian.platform.errors import DajianError
from tests.app_templates.conftest import BUNDLES


@pytest.fixture
def copy(tmp_path):
    """A writable copy of the ``mini_crm`` fixture bundle."""
    target = tmp_path / "mini_crm"
    shutil.copytree(BUNDLES / "mini_crm", target)
    return target


def edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False))


def problems(path_or_key) -> set[tuple[str, str]]:
    with pytest.raises(DajianError) as caught:
        load_bundle(path_or_key)
    return {(e.code, e.path) for e in caught.value.errors}


def test_a_bundle_loads_by_key_with_its_documents_and_hash():
    bundle = load_bundle("mini_crm")

    assert bundle.key == "mini_crm" and bundle.version == "1.0.0"
    assert set(bundle.documents) == {
        "forms/product.json",
        "forms/visit.json",
        "forms/customer.json",
        "forms/opportunity.json",
        "workflows/opportunity.json",
        "approval_chains/deal_approval.json",
        "automations/silent_customer.json",
        "sample/product.json",
    }
    assert bundle.hash == canonical_hash(
        {"manifest": bundle.manifest, "documents": bundle.documents}
    )
    assert bundle.sample_rows("product")[1] == {"name": "康师傅 红烧牛肉面 12桶/箱", "price": 58.5}
    assert bundle.contents()["roles"] == ["rep", "manager"]


def test_the_hash_follows_the_content_not_the_formatting(copy):
    before = load_bundle(copy).hash
    # given the same JSON written differently
    text = json.loads((copy / "forms/visit.json").read_text())
    (copy / "forms/visit.json").write_text(json.dumps(text, indent=8, sort_keys=True))
    assert load_bundle(copy).hash == before
    # when a label changes
    edit(copy / "forms/visit.json", lambda d: d["name"].update({"en": "Store visit"}))
    assert load_bundle(copy).hash != before


def test_unknown_template_is_not_found():
    with pytest.raises(DajianError) as caught:
        load_bundle("no_such_template")
    assert caught.value.errors[0].code == "NOT_FOUND"


def test_manifest_must_follow_its_schema(copy):
    def change(manifest):
        manifest["version"] = "1.0"
        manifest["roles"][0]["daily_claim_limit"] = -1
        manifest["colour"] = "red"

    edit(copy / "manifest.json", change)

    found = problems(copy)

    assert ("INVALID_MANIFEST", "manifest.json: version") in found
    assert ("INVALID_MANIFEST", "manifest.json: roles.0.daily_claim_limit") in found
    assert ("INVALID_MANIFEST", "manifest.json") in found  # the unknown key


@pytest.mark.parametrize("version", ["1.0.0", "0.1.0-beta.2", "2.10.3+build.7"])
def test_semantic_versions_are_accepted(copy, version):
    edit(copy / "manifest.json", lambda m: m.update(version=version))
    assert load_bundle(copy).version == version


def test_listed_files_must_exist_and_files_must_be_listed(copy):
    (copy / "automations/silent_customer.json").unlink()
    (copy / "forms/extra.json").write_text("{}")
    (copy / "notes.txt").write_text("hello")
    (copy / "scripts").mkdir()
    (copy / "sample/unknown_form.json").write_text("[]")

    found = problems(copy)

    assert ("MISSING_FILE", "automations/silent_customer.json") in found
    assert ("UNLISTED_FILE", "forms/extra.json") in found
    assert ("UNLISTED_FILE", "notes.txt") in found
    assert ("UNLISTED_FILE", "scripts") in found
    assert ("UNLISTED_FORM", "sample/unknown_form.json") in found


def test_a_readme_is_allowed_and_not_part_of_the_hash(copy):
    before = load_bundle(copy).hash
    (copy / "README.md").write_text("changed")
    assert load_bundle(copy).hash == before


def test_invalid_json_names_the_file(copy):
    (copy / "forms/visit.json").write_text("{not json")
    assert {code for code, path in problems(copy) if path == "forms/visit.json"} == {"INVALID_JSON"}


def test_documents_are_checked_by_the_builder_meta_schemas_at_their_path(copy):
    edit(copy / "forms/customer.json", lambda d: d["fields"][3].update(type="telephone"))
    edit(copy / "workflows/opportunity.json", lambda d: d["stages"][0].update(colour="red"))
    edit(copy / "automations/silent_customer.json", lambda d: d.pop("trigger"))

    found = problems(copy)

    assert ("UNKNOWN_FIELD_TYPE", "forms/customer.json: fields.3.type") in found
    assert ("UNKNOWN_PROPERTY", "workflows/opportunity.json: stages.0") in found
    assert ("REQUIRED", "automations/silent_customer.json") in found


def test_document_keys_must_match_their_file_names(copy):
    edit(copy / "forms/visit.json", lambda d: d.update(key="store_visit"))
    edit(copy / "workflows/opportunity.json", lambda d: d.update(form="customer"))
    edit(copy / "approval_chains/deal_approval.json", lambda d: d.update(form="invoice"))

    found = problems(copy)

    assert ("KEY_MISMATCH", "forms/visit.json: key") in found
    assert ("KEY_MISMATCH", "workflows/opportunity.json: form") in found
    assert ("UNLISTED_FORM", "approval_chains/deal_approval.json: form") in found


def test_templates_name_listed_roles_never_fixed_users(copy):
    def chain(document):
        document["steps"][1]["approvers"] = [
            {"type": "role", "role": "director"},
            {"type": "user", "users": ["alice"]},
        ]

    edit(copy / "approval_chains/deal_approval.json", chain)
    edit(copy / "forms/visit.json", lambda d: d["permissions"].append({"role": "auditor"}))

    found = problems(copy)

    assert (
        "UNLISTED_ROLE",
        "approval_chains/deal_approval.json: steps.1.approvers.0.role",
    ) in found
    assert ("FIXED_USER", "approval_chains/deal_approval.json: steps.1.approvers.1") in found
    assert ("UNLISTED_ROLE", "forms/visit.json: permissions.2.role") in found


def test_sample_rows_and_weights_are_checked(copy):
    (copy / "sample/product.json").write_text(json.dumps([{"name": "x"}, "oops"]))
    edit(copy / "manifest.json", lambda m: m["sample_data"]["weights"].update(lead=3))

    found = problems(copy)

    assert ("INVALID_SAMPLE", "sample/product.json: 1") in found
    assert ("UNLISTED_FORM", "manifest.json: sample_data.weights.lead") in found


def test_size_limits(copy, monkeypatch):
    monkeypatch.setattr(bundle_module, "MAX_FILE_BYTES", 600)
    found = problems(copy)
    assert ("FILE_TOO_LARGE", "forms/customer.json") in found

    monkeypatch.setattr(bundle_module, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 4000)
    assert ("BUNDLE_TOO_LARGE", "bundle") in problems(copy)


def test_a_bundle_in_a_template_folder_is_named_by_its_key(tmp_path, settings):
    shutil.copytree(BUNDLES / "mini_crm", tmp_path / "crm_copy")
    settings.DAJIAN = {**settings.DAJIAN, "TEMPLATE_DIRS": [str(tmp_path)]}

    assert ("KEY_MISMATCH", "manifest.json: key") in problems("crm_copy")


def test_write_and_load_give_the_same_bundle(tmp_path):
    bundle = load_bundle("mini_crm")

    written = load_bundle(bundle.write(tmp_path / "out"))

    assert written.manifest == bundle.manifest
    assert written.documents == bundle.documents
    assert written.hash == bundle.hash


def test_write_replaces_a_bundle_but_refuses_other_folders(tmp_path):
    bundle = load_bundle("mini_crm")
    target = bundle.write(tmp_path / "out")
    (target / "forms/stale.json").write_text("{}")

    bundle.write(target)
    assert not (target / "forms/stale.json").exists()

    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"...")
    with pytest.raises(DajianError):
        bundle.write(other)
    assert (other / "cat.jpg").exists()


def test_bundle_from_json_checks_like_files():
    bundle = load_bundle("mini_crm")

    assert bundle_from_json(bundle.as_json()).hash == bundle.hash

    broken = bundle.as_json()
    broken["documents"] = {k: v for k, v in broken["documents"].items() if "visit" not in k}
    with pytest.raises(DajianError) as caught:
        bundle_from_json(broken)
    assert ("MISSING_FILE", "forms/visit.json") in {(e.code, e.path) for e in caught.value.errors}


def test_available_templates_skip_broken_bundles(tmp_path, settings):
    shutil.copytree(BUNDLES / "mini_crm", tmp_path / "mini_crm")
    shutil.copytree(BUNDLES / "mutual", tmp_path / "mutual")
    (tmp_path / "mutual/forms/contact.json").write_text("{")
    settings.DAJIAN = {**settings.DAJIAN, "TEMPLATE_DIRS": [str(tmp_path)]}

    keys = [b.key for b in available_templates()]

    assert "mini_crm" in keys and "mutual" not in keys


def test_the_shipped_templates_are_valid_bundles():
    shipped = sorted(p.name for p in TEMPLATES_DIR.iterdir() if (p / "manifest.json").is_file())
    for key in shipped:
        assert load_bundle(key).key == key

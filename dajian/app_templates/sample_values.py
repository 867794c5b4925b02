"""Values of one sample record: field values, owner, creation time, workflow path.

Values come from each field type's ``example_value(faker)`` with ``Faker("zh_CN")`` and
the project's providers (:mod:`.faker_providers`), or from the Faker provider a field's
``example`` hint names. Ids are picked from the workspace: relations point at sample
records of the target form (the owner's own when there are some), user fields and owners
at members who may create records of the form (members who manage no unit, the reps, get
four times as many), department fields at org units. Records are created over the last
180 days, mostly on weekdays in office hours of the workspace's time zone, and spread
over their workflow's stages like a funnel.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker

from dajian.app_templates.faker_providers import SalesProvider
from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.attachment import AttachmentField
from dajian.builder.fields.base import FieldType, FieldValueError
from dajian.builder.metadata.workflow import WorkflowDefinition
from dajian.platform.actors import Actor
from dajian.platform.models import Membership, OrgUnit, Workspace
from dajian.platform.permissions import resolve_policy
from dajian.runtime.services.bulk import StageVisit

SPREAD_DAYS = 180
UPDATED_WITHIN_DAYS = 40
SKIP_OPTIONAL = 0.12  # share of optional fields left empty, as people do
SKIP_EVIDENCE = 0.03  # fields a flag rule checks: reps are judged on them, so mostly filled
SAME_OWNER = 0.8  # share of relations to a record of the same owner, when there is one
NEAR_METRES = (5, 120)  # a location next to the related record's (a check-in at the store)
FAR_METRES = (600, 3000)  # ... or, one time in twenty, not quite there
NEAR_SHARE = 0.95
PHOTO_SHARE = 0.95  # image fields with photos; the others miss their evidence
SAMPLE_IMAGES = (("门头", (196, 30, 58)), ("货架", (240, 240, 232)), ("陈列", (36, 110, 185)))
HINTED_TYPES = frozenset({"text", "long_text", "phone", "email", "url", "date", "datetime"})
REP_WEIGHT = 4


@dataclass(frozen=True)
class Person:
    user_id: int
    roles: frozenset[str]
    manages: bool


class SampleValues:
    """Deterministic (``seed``) generator of sample record values for one workspace."""

    def __init__(self, actor: Actor, seed: int, now: dt.datetime):
        workspace = actor.workspace
        self.actor = actor
        self.workspace = workspace
        self.now = now
        self.rng = random.Random(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        self.faker.add_provider(SalesProvider)
        self.zone = ZoneInfo(workspace.time_zone or "Asia/Shanghai")
        self.people = _people(workspace)
        self.units = list(OrgUnit.objects.filter(workspace=workspace).values_list("pk", flat=True))
        # form key → owner id (None: any) → sample record ids
        self.created: dict[str, dict[int | None, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )
        # record id → its first location: later records that relate to it are near it
        self.places: dict[int, dict[str, Any]] = {}
        self.images: list[int] | None = None  # sample photos, uploaded when first needed

    # --- who and when --------------------------------------------------------------------

    def creators(self, definition: FormDefinition) -> list[tuple[int, int]]:
        """``(user id, weight)`` of the members whose roles may create records of the
        form; people who manage nobody weigh more."""
        found = []
        for person in self.people:
            policy = resolve_policy(
                Actor(workspace=self.workspace, user=None, roles=person.roles),
                definition.permissions,
            )
            if policy.can_create and person.roles:
                found.append((person.user_id, 1 if person.manages else REP_WEIGHT))
        return found

    def pick(self, weighted: list[tuple[int, int]]) -> int | None:
        if not weighted:
            return None
        ids, weights = zip(*weighted, strict=True)
        return self.rng.choices(ids, weights)[0]

    def moment(self) -> dt.datetime:
        """A creation time in the last 180 days: weekdays, 08:30–19:30 local time."""
        local = self.now.astimezone(self.zone) - dt.timedelta(days=self.rng.random() * SPREAD_DAYS)
        day = local.date()
        if day.weekday() >= 5 and self.rng.random() < 0.8:
            day -= dt.timedelta(days=day.weekday() - 4)  # most weekend work moves to Friday
        minutes = 510 + int(self.rng.random() * 660)
        when = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), self.zone)
        return min(when, self.now - dt.timedelta(minutes=1 + self.rng.random() * 30)).astimezone(
            dt.UTC
        )

    def updated(self, created_at: dt.datetime, stages: list[StageVisit]) -> dt.datetime:
        """The last change: within the last 40 days, after creation and the last move."""
        recent = self.now - dt.timedelta(days=self.rng.random() * UPDATED_WITHIN_DAYS)
        latest = stages[-1].entered_at if stages else created_at
        return min(max(recent, latest, created_at), self.now)

    def path(
        self, workflow: WorkflowDefinition | None, created_at: dt.datetime
    ) -> list[StageVisit]:
        """A path from the initial stage to a stage picked like a funnel: each step on
        is 40 % less likely, terminal stages half as likely again."""
        if workflow is None or workflow.initial not in workflow.stage_map:
            return []
        parents = _reachable(workflow)
        depth = {key: _depth(parents, key) for key in parents}
        weights = [
            0.6 ** depth[key] * (0.5 if workflow.stage_map[key].terminal else 1.0)
            for key in parents
        ]
        target = self.rng.choices(list(parents), weights)[0]
        keys = [target]
        while parents[keys[-1]] is not None:
            keys.append(parents[keys[-1]])  # type: ignore[arg-type]
        visits, when = [], created_at
        for i, key in enumerate(reversed(keys)):
            if i:
                when = min(when + dt.timedelta(days=0.5 + self.rng.random() * 12), self.now)
            reasons = workflow.stage_map[key].reasons
            reason = self.rng.choice(reasons).key if reasons and i else ""
            visits.append(StageVisit(key, when, reason))
        return visits

    # --- values --------------------------------------------------------------------------

    def data(
        self,
        definition: FormDefinition,
        owner_id: int | None,
        creators: list[tuple[int, int]],
        forced: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Values for the writable fields; optional ones are sometimes left empty."""
        data: dict[str, Any] = {}
        place: dict[str, Any] | None = None
        evidence = {key for rule in definition.rules if rule.flag for key in rule.fields}
        for spec in definition.fields:
            key = spec["key"]
            field_type = definition.field_types[key]
            if field_type.read_only or not field_type.stored or key not in definition.writable_keys:
                continue
            optional = not (spec.get("required") or spec.get("required_if") or key in forced)
            skip = SKIP_EVIDENCE if key in evidence else SKIP_OPTIONAL
            if optional and self.rng.random() < skip:
                continue
            value = None
            if field_type.type == "location" and place is not None:
                value = self._near(field_type, place)
            if value is None:
                value = self.value(field_type, spec, owner_id, creators)
            if value is not None:
                data[key] = value
            if field_type.type == "relation" and isinstance(value, int) and place is None:
                place = self.places.get(value)
            elif field_type.type == "location" and place is None:
                place = value  # the record's other locations are around its first
        return data

    def value(
        self,
        field_type: FieldType,
        spec: Mapping[str, Any],
        owner_id: int | None,
        creators: list[tuple[int, int]],
    ) -> Any:
        kind = field_type.type
        multiple = bool(spec.get("multiple"))
        if kind == "relation":
            return self._records(spec["target"], owner_id, multiple)
        if kind == "user":
            pool = creators or [(p.user_id, 1) for p in self.people]
            return self._ids([self.pick(pool) for _ in range(3)], multiple)
        if kind == "department":
            return self._ids([self.rng.choice(self.units)] if self.units else [], multiple)
        if kind == "subtable":
            return self._rows(field_type, owner_id, creators)
        if isinstance(field_type, AttachmentField):
            return self._photos(field_type)
        hint = spec.get("example")
        if hint and kind in HINTED_TYPES:
            try:
                text = str(getattr(self.faker, hint)())
                if kind == "date":  # recent_past / near_future give instants
                    text = text[:10]
                return field_type.clean(text[: getattr(field_type, "max_length", len(text))])
            except (AttributeError, FieldValueError):
                pass  # a hint that does not fit the field: its type's own example
        return field_type.example_value(self.faker)

    def remember(
        self, form_key: str, record_id: int, owner_id: int | None, data: Mapping[str, Any]
    ) -> None:
        """A written sample record: a relation target, and a place for later ones."""
        self.created[form_key][owner_id].append(record_id)
        for value in data.values():
            if isinstance(value, Mapping) and "lat" in value and "lng" in value:
                self.places[record_id] = dict(value)
                break

    def _photos(self, field_type: AttachmentField) -> Any:
        """Some of the sample photos, for fields that take images (other uploads cannot
        be invented); now and then none, as when a rep skips the evidence."""
        if field_type.accept is not None and "image" not in field_type.accept:
            return None
        if self.rng.random() >= PHOTO_SHARE:
            return None
        if self.images is None:
            self.images = _upload_sample_images(self.actor)
        if field_type.single:
            return self.rng.choice(self.images)
        low = max(field_type.min_count, 1)
        high = max(low, min(3, field_type.max_count, len(self.images)))
        return self.rng.sample(self.images, min(self.rng.randint(low, high), len(self.images)))

    def _near(self, field_type: FieldType, place: Mapping[str, Any]) -> Any:
        """A location by the related record's: mostly within 150 m, sometimes farther."""
        low, high = NEAR_METRES if self.rng.random() < NEAR_SHARE else FAR_METRES
        metres = self.rng.uniform(low, high)
        bearing = self.rng.uniform(0, 2 * math.pi)
        lat = float(place["lat"]) + metres * math.cos(bearing) / 111_320
        lng = float(place["lng"]) + metres * math.sin(bearing) / (
            111_320 * max(math.cos(math.radians(lat)), 0.01)
        )
        value = {
            "lat": round(lat, 6),
            "lng": round(lng, 6),
            "accuracy": float(self.rng.randint(5, 30)),
            **({"address": place["address"]} if place.get("address") else {}),
        }
        try:
            return field_type.clean(value)
        except FieldValueError:
            return None

    def _records(self, target: str, owner_id: int | None, multiple: bool) -> Any:
        by_owner = self.created.get(target)
        if not by_owner:
            return None
        own = by_owner.get(owner_id)
        if own and self.rng.random() < SAME_OWNER:
            pool = own
        else:
            pool = self.rng.choice([ids for ids in by_owner.values() if ids])
        count = self.rng.randint(1, min(3, len(pool))) if multiple else 1
        return self._ids(self.rng.sample(pool, count), multiple)

    def _ids(self, ids: list[Any], multiple: bool) -> Any:
        ids = list(dict.fromkeys(i for i in ids if i is not None))
        if not ids:
            return None
        return ids if multiple else ids[0]

    def _rows(
        self, field_type: FieldType, owner_id: int | None, creators: list[tuple[int, int]]
    ) -> list[dict[str, Any]] | None:
        low = getattr(field_type, "min_rows", 0)
        high = max(low, min(4, getattr(field_type, "max_rows", 4)))
        rows = []
        for _ in range(self.rng.randint(max(low, 1), high)):
            row = {}
            for spec in getattr(field_type, "sub_fields", []):
                column = field_type.columns[spec["key"]]  # type: ignore[attr-defined]
                if column.read_only:
                    continue
                value = self.value(column, spec, owner_id, creators)
                if value is not None:
                    row[spec["key"]] = value
            rows.append(row)
        return rows or None


def _upload_sample_images(actor: Actor) -> list[int]:
    """A few plain pictures (storefront, shelf, display), uploaded once per run like any
    photo, so sample records can carry their evidence."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    from dajian.platform.files.service import store_upload

    ids = []
    for i, (_name, colour) in enumerate(SAMPLE_IMAGES):
        image = Image.new("RGB", (640, 480), colour)
        draw = ImageDraw.Draw(image)
        for row in range(4):  # shelves, or a sign board and a door
            top = 60 + row * 100
            draw.rectangle((40, top, 600, top + 70), outline=(60, 60, 60), width=4)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=70)
        upload = SimpleUploadedFile(f"sample-{i + 1}.jpg", buffer.getvalue(), "image/jpeg")
        ids.append(store_upload(actor, upload).pk)
    return ids


def _people(workspace: Workspace) -> list[Person]:
    managers = set(
        OrgUnit.objects.filter(workspace=workspace, manager__isnull=False).values_list(
            "manager_id", flat=True
        )
    )
    roles: dict[int, set[str]] = defaultdict(set)
    rows = Membership.objects.filter(workspace=workspace, is_active=True).values_list(
        "user_id", "roles__key"
    )
    for user_id, role in rows:
        roles[user_id].update([role] if role else [])
    return [
        Person(user_id=user_id, roles=frozenset(keys), manages=user_id in managers)
        for user_id, keys in sorted(roles.items())
    ]


def _reachable(workflow: WorkflowDefinition) -> dict[str, str | None]:
    """Every stage reachable from the initial one, with the stage it is first reached
    from (breadth first, so paths are shortest)."""
    parents: dict[str, str | None] = {workflow.initial: None}
    queue = deque([workflow.initial])
    while queue:
        stage = queue.popleft()
        for transition in workflow.transitions_from(stage):
            if transition.to not in parents and transition.to in workflow.stage_map:
                parents[transition.to] = stage
                queue.append(transition.to)
    return parents


def _depth(parents: dict[str, str | None], key: str) -> int:
    depth = 0
    while parents[key] is not None:
        key = parents[key]  # type: ignore[assignment]
        depth += 1
    return depth

"""Validating the import format (docs/import-format.md) into plain records. Pure: nothing is written here.

Every problem names the record and the field, and all problems are gathered before the file is refused,
so one round of fixes is enough. One module per part of the file: ``organisation``, ``people`` (staff, care
recipients, shifts, history), ``customers`` (contacts, visits, customer reminders, notification templates),
``completion`` (what a file declares complete); ``fields`` holds the names, limits and shared checks.
"""
from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from core.fieldnames import unknown_fields
from core.importer import people
from core.importer.completion import complete, shifts_window
from core.importer.customers import customer_reminders, customers, notification_templates, template_texts, visits
from core.importer.fields import (
    COMPLETABLE,
    DEFAULT_ESCALATE_AFTER,
    LOCALES,
    TOP_FIELDS,
    ImportError_,
    ImportPlan,
    region_of,
)
from core.importer.organisation import organisation

__all__ = ["COMPLETABLE", "DEFAULT_ESCALATE_AFTER", "LOCALES", "ImportError_", "ImportPlan", "template_texts",
           "validate_import"]


def validate_import(doc: object, default_timezone: str = "Europe/Stockholm",
                    known_staff: AbstractSet[str] = frozenset(), known_recipients: AbstractSet[str] = frozenset(),
                    known_customers: AbstractSet[str] = frozenset(),
                    template_checks: Mapping[tuple[str, str], list[str]] | None = None,
                    default_quiet_hours: str | None = None) -> ImportPlan:
    """Check the whole document; return the plan or raise ImportError_ listing every problem.

    ``known_*`` are the host ids already stored for this organisation, which records may refer to.
    ``default_quiet_hours`` (the service's) are the quiet hours an organisation without its own has:
    automatic round slots are checked against them.
    ``template_checks`` are the problems of each of ``template_texts(doc)`` as the template workers
    found them (syntax, names and a trial render's cost); without them only syntax and names are
    checked, here.
    """
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ImportError_(["the file must be a JSON object with 'organisation' and optional lists"])
    problems += unknown_fields(doc, TOP_FIELDS, "the file")
    org_in = doc.get("organisation")
    if not isinstance(org_in, dict):
        raise ImportError_(problems + ["'organisation' is missing: it needs at least 'id' and 'name'"])
    org, tz = organisation(org_in, default_timezone, default_quiet_hours, problems)
    plan = ImportPlan(organisation=org, timezone=tz.key, complete=complete(doc, problems),
                      shifts_window=shifts_window(doc, tz, problems))
    all_staff = people.staff(doc, plan, region_of(plan), problems) | set(known_staff)
    all_recipients = people.care_recipients(doc, plan, all_staff, problems) | set(known_recipients)
    people.shifts(doc, plan, all_staff, all_recipients, tz, problems)
    people.history(doc, plan, all_staff, tz, problems)
    all_customers = customers(doc, plan, problems) | set(known_customers)
    customer_reminders(doc, plan, all_customers, problems, template_checks)
    visits(doc, plan, all_staff, all_customers, tz, problems)
    notification_templates(doc, plan, all_staff, problems, template_checks)
    if problems:
        raise ImportError_(problems)
    return plan

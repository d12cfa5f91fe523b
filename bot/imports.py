"""The import use case, shared by ``paminn import`` and ``POST /api/v1/import``."""
from __future__ import annotations

from core import store
from core.importer import ImportError_, template_texts, validate_import
from handlers.team import announce_completed_months


async def run_import(services, doc: object) -> dict[str, dict[str, int]]:
    """Validate and upsert ``doc`` in one transaction; raise ImportError_ (nothing written) if refused."""
    # Templates are checked (and tried with sample values) in the template workers, before the
    # transaction: a costly text is refused without blocking anything.
    texts = template_texts(doc)
    checks = dict(zip(texts, await services.templates.check_many(texts)))
    async with services.sessions.begin() as session:
        org_id = (doc.get("organisation") or {}).get("id") if isinstance(doc, dict) else None
        known_staff, known_recipients, known_customers = (await store.known_ids(session, org_id)) \
            if isinstance(org_id, str) else (set(), set(), set())
        plan = validate_import(doc, services.settings.timezone, known_staff, known_recipients, known_customers,
                               template_checks=checks, default_quiet_hours=services.settings.quiet_hours)
        counts = await store.apply_import(session, plan, services.clock())
        await announce_completed_months(services.context(session), plan.organisation["id"])
        return counts


def format_counts(counts: dict[str, dict[str, int]]) -> str:
    """One line per kind: ``staff: 1 created, 0 updated, 11 unchanged, 2 deactivated``."""
    return "\n".join(f"{kind}: " + ", ".join(f"{n} {what}" for what, n in c.items()) for kind, c in counts.items())


__all__ = ["ImportError_", "format_counts", "run_import"]

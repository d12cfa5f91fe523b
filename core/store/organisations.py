"""Organisations and their people: look-ups by id, address, host id, role and name; the round lock;
opt-out and a mobile number found invalid."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Iterable, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.util import identity_key

from core.models import Organisation, Shift, Staff, Supervision
from core.store._common import active_staff, on_postgresql, one_of, per_backend
from core.text import fold


async def get_org(session: AsyncSession, org_id: str) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def count_orgs(session: AsyncSession) -> int:
    return cast(int, await session.scalar(select(func.count()).select_from(Organisation)))  # COUNT has a row


async def lock_org_for_round(session: AsyncSession, org_id: str) -> int:
    """Serialise reminder rounds per organisation and number them.

    The UPDATE takes PostgreSQL's row lock (and SQLite's write lock) before we read who is
    due, so two coordinators pressing at once cannot both pass the 2-hour rule.
    """
    result = await session.execute(
        update(Organisation).where(Organisation.id == org_id)
        .values(round_seq=Organisation.round_seq + 1).returning(Organisation.round_seq)
    )
    return result.scalar_one()


# The statements every inbound batch runs, built once: building one is most of what it costs in Python
# (a fresh statement is constructed and its cache key computed on every call), and the lists are bound
# as one parameter each (``one_of``), so one compiled form serves every length.
def _orgs_by_ids(pg: bool):
    return select(Organisation).where(one_of(Organisation.id, "ids", pg))


_ORGS_BY_IDS = per_backend(_orgs_by_ids)


def _staff_by(mobiles: bool, telegram: bool, pg: bool):
    # Each person's organisation comes along, held by the person (Staff.organisation), so it stays in the
    # session's identity map where orgs_by_ids finds it: what is said to them depends on it, and a second
    # query would be a second round trip.
    addresses = ([one_of(Staff.mobile, "mobiles", pg)] if mobiles else []) + (
        [one_of(Staff.telegram_user_id, "telegram_ids", pg)] if telegram else [])
    return (select(Staff).join(Staff.organisation).options(contains_eager(Staff.organisation))
            .where(or_(*addresses), active_staff()).order_by(Staff.id))


_STAFF_BY = {  # (any mobiles, any Telegram accounts) -> everyone behind them, ordered by id
    (mobiles, telegram): per_backend(functools.partial(_staff_by, mobiles, telegram))
    for mobiles, telegram in ((True, False), (False, True), (True, True))
}


async def orgs_by_ids(session: AsyncSession, org_ids: Iterable[str]) -> dict[str, Organisation]:
    """The organisations by id. Those the session has loaded already (staff_by_addresses brings them)
    are taken from it, as a query would (it does not overwrite what the session holds); the rest are read."""
    found: dict[str, Organisation] = {}
    missing = []
    for org_id in sorted(set(org_ids)):
        org = session.identity_map.get(identity_key(Organisation, org_id))
        if org is not None:
            found[org_id] = org
        else:
            missing.append(org_id)
    if missing:
        found.update((org.id, org) for org in await session.scalars(_ORGS_BY_IDS[on_postgresql(session)],
                                                                    {"ids": missing}))
    return found


async def all_orgs(session: AsyncSession) -> list[Organisation]:
    """Every organisation (few rows): escalation looks at each one's months through an index."""
    return list(await session.scalars(select(Organisation).order_by(Organisation.id)))


async def staff_by_mobile(session: AsyncSession, e164: str, include_deactivated: bool = False) -> list[Staff]:
    query = select(Staff).where(Staff.mobile == e164).order_by(Staff.id)
    rows = await session.scalars(query if include_deactivated else query.where(active_staff()))
    return list(rows)


async def staff_by_telegram(session: AsyncSession, user_id: int) -> list[Staff]:
    rows = await session.scalars(select(Staff).where(Staff.telegram_user_id == user_id, active_staff())
                                 .order_by(Staff.id))
    return list(rows)


async def staff_by_addresses(session: AsyncSession, mobiles: Iterable[str], telegram_ids: Iterable[int]
                             ) -> tuple[dict[str, list[Staff]], dict[int, list[Staff]]]:
    """Everyone behind each mobile number and each Telegram account, in one query (ordered by id)."""
    mobiles, telegram_ids = sorted(set(mobiles)), sorted(set(telegram_ids))
    by_mobile: dict[str, list[Staff]] = {}
    by_telegram: dict[int, list[Staff]] = {}
    if not mobiles and not telegram_ids:
        return by_mobile, by_telegram
    query = _STAFF_BY[bool(mobiles), bool(telegram_ids)][on_postgresql(session)]
    wanted_mobiles, wanted_telegram = set(mobiles), set(telegram_ids)
    for staff in await session.scalars(query, {"mobiles": mobiles, "telegram_ids": telegram_ids}):
        if staff.mobile in wanted_mobiles:
            by_mobile.setdefault(staff.mobile, []).append(staff)
        if staff.telegram_user_id in wanted_telegram:
            by_telegram.setdefault(staff.telegram_user_id, []).append(staff)
    return by_mobile, by_telegram


async def list_staff(session: AsyncSession, org_id: str) -> list[Staff]:
    return list(await session.scalars(select(Staff).where(Staff.org_id == org_id).order_by(Staff.name)))


async def staff_by_ids(session: AsyncSession, ids: list[int]) -> list[Staff]:
    result: list[Staff] = []
    for start in range(0, len(ids), 5000):  # keep IN lists within every backend's limits
        result.extend(await session.scalars(select(Staff).where(Staff.id.in_(ids[start:start + 5000]))))
    return result


async def staff_by_external_ids(session: AsyncSession, org_id: str, ids: Iterable[str]) -> dict[str, Staff]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {s.external_id: s for s in await session.scalars(
        select(Staff).where(Staff.org_id == org_id, Staff.external_id.in_(wanted), active_staff()))}


async def staff_with_roles(session: AsyncSession, org_ids: Iterable[str], roles: Iterable[str]) -> list[Staff]:
    """The organisations' staff holding any of ``roles`` (few people: admins, inspectors)."""
    wanted_orgs, wanted_roles = sorted(set(org_ids)), set(roles)
    if not wanted_orgs:
        return []
    rows = await session.scalars(select(Staff).where(Staff.org_id.in_(wanted_orgs), active_staff(),
                                                     or_(*[Staff.roles.contains(r) for r in wanted_roles])))
    return [s for s in rows if wanted_roles & set(s.role_list())]


async def supervised_recipient_ids(session: AsyncSession, staff_id: int) -> set[int]:
    rows = await session.scalars(select(Supervision.care_recipient_id).where(Supervision.staff_id == staff_id))
    return set(rows)


async def find_by_name(session: AsyncSession, model, org_id: str, wanted: str, extra=None) -> list:
    """Rows of ``model`` whose folded name equals ``wanted``, else those it is a word-prefix of."""
    query = select(model).where(model.org_id == org_id)
    if extra is not None:
        query = query.where(extra)
    rows = list(await session.scalars(query))
    target = fold(wanted)
    exact = [r for r in rows if fold(r.name) == target]
    if exact:
        return exact
    words = target.split()
    return [r for r in rows if all(any(w.startswith(t) for w in fold(r.name).split()) for t in words)]


async def staff_ids_with_shifts(session: AsyncSession, staff_ids: list[int], lo: datetime, hi: datetime,
                                recipient_ids: set[int] | None) -> set[int]:
    """Which of ``staff_ids`` have a shift in [lo, hi) (at ``recipient_ids``, if given)."""
    query = select(Shift.staff_id).distinct().where(Shift.staff_id.in_(staff_ids), Shift.start_at >= lo,
                                                     Shift.start_at < hi)
    if recipient_ids is not None:
        query = query.where(Shift.care_recipient_id.in_(recipient_ids))
    return set(await session.scalars(query))


async def set_opt_out(session: AsyncSession, staff_ids: Iterable[int], at: datetime | None) -> None:
    await session.execute(update(Staff).where(Staff.id.in_(list(staff_ids))).values(opted_out_at=at))


async def mark_mobile_invalid(session: AsyncSession, staff_id: int) -> None:
    await session.execute(update(Staff).where(Staff.id == staff_id).values(mobile_invalid=True))

"""API keys (stored as hashes) and the audit of their use."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import ApiAudit, ApiKey


async def api_key_named(session: AsyncSession, org_id: str, name: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.name == name))


async def add_api_key(session: AsyncSession, org_id: str, name: str, key_hash: str, scopes: list[str],
                      now: datetime) -> ApiKey:
    key = ApiKey(org_id=org_id, name=name, key_hash=key_hash, scopes=",".join(scopes), created_at=now)
    session.add(key)
    await session.flush()
    return key


async def list_api_keys(session: AsyncSession, org_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.org_id, ApiKey.name)
    if org_id is not None:
        query = query.where(ApiKey.org_id == org_id)
    return list(await session.scalars(query))


async def revoke_api_key(session: AsyncSession, org_id: str, name: str, now: datetime) -> ApiKey | None:
    """Revoke a key (from this statement on, it opens nothing); None when the organisation has no such key."""
    key = await api_key_named(session, org_id, name)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


async def active_api_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


async def any_active_api_key(session: AsyncSession) -> bool:
    return await session.scalar(select(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).exists())) or False


LAST_USED_GRAIN = timedelta(minutes=1)


async def touch_api_key(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """Note the key's use; at most once a minute, so a busy key does not write (and, on SQLite, take the
    database's write lock) on every request."""
    if key.last_used_at is not None and key.last_used_at >= now - LAST_USED_GRAIN:
        return
    await session.execute(update(ApiKey).where(
        ApiKey.id == key.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_GRAIN))
        .values(last_used_at=now))


async def add_audit(session: AsyncSession, **values) -> None:
    await session.execute(insert(ApiAudit).values(**values))


async def audit_rows(session: AsyncSession, org_id: str, limit: int) -> list[ApiAudit]:
    return list(await session.scalars(select(ApiAudit).where(ApiAudit.org_id == org_id)
                                      .order_by(ApiAudit.at.desc(), ApiAudit.id.desc()).limit(limit)))

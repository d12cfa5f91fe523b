"""Test organisations as import documents, so tests load data the way host systems do."""
from __future__ import annotations

from bot.imports import run_import

COORD = "+46701112233"
SUPERVISOR = "+46701110001"
ANNA = "+46701234567"
BO = "+46701234568"
DAVID = "+46701234570"
EVA = "+46701234571"
FIA = "+46701234572"
GUSTAV = "+46701234573"
HANNA = "+46701234574"
IVAR = "+46701234575"
JONNA = "+46701234576"


def shift(sid, staff, recipient, start, *, reported=False, signed=False, hours=8):
    from datetime import datetime, timedelta

    begin = datetime.fromisoformat(start)
    return {"id": sid, "staff": staff, "care_recipient": recipient, "start": begin.isoformat(),
            "end": (begin + timedelta(hours=hours)).isoformat(), "reported": reported, "signed": signed}


def may_org(**org_overrides) -> dict:
    """One of every case for May 2026 (the test clock stands at 2 June 2026, 10:00 Stockholm).

    Due: Anna, Gustav, Ivar, Jonna. Held back: Cecilia (no mobile), David (reminders off),
    Eva (only at a recipient with reminders off), Fia (reminded an hour ago). Bo is done;
    Hanna's only shift starts 00:30 on 1 June, so it is June's.
    """
    org = {"id": "org1", "name": "Assistans Norr AB", "app_name": "Coordinare",
           "app_link": "https://app.coordinare.se", "timezone": "Europe/Stockholm", "locale": "sv"}
    org.update(org_overrides)
    return {
        "organisation": org,
        "staff": [
            {"id": "c1", "name": "Karin Koordinator", "mobile": "070-111 22 33", "roles": ["coordinator"]},
            {"id": "l1", "name": "Lisa Ledare", "mobile": SUPERVISOR, "roles": ["supervisor"]},
            {"id": "a1", "name": "Anna Andersson", "mobile": ANNA, "personal_number": "19900101-1234"},
            {"id": "a2", "name": "Bo Berg", "mobile": BO},
            {"id": "a3", "name": "Cecilia Carlsson", "mobile": None},
            {"id": "a4", "name": "David Dahl", "mobile": DAVID, "reminders_enabled": False},
            {"id": "a5", "name": "Eva Ek", "mobile": EVA},
            {"id": "a6", "name": "Fia Fors", "mobile": FIA},
            {"id": "a7", "name": "Gustav Grön", "mobile": GUSTAV},
            {"id": "a8", "name": "Hanna Holm", "mobile": HANNA},
            {"id": "a9", "name": "Ivar Isaksson", "mobile": IVAR},
            {"id": "a10", "name": "Jonna Jansson", "mobile": JONNA},
        ],
        "care_recipients": [
            {"id": "r1", "name": "Rolf Brukare", "supervisors": ["l1"]},
            {"id": "r2", "name": "Stina Stängd", "reminders_enabled": False},
            {"id": "r3", "name": "Tore Tredje"},
        ],
        "shifts": [
            shift("s1", "a1", "r1", "2026-05-03T08:00:00+02:00"),
            shift("s2", "a2", "r1", "2026-05-04T08:00:00+02:00", reported=True, signed=True),
            shift("s3", "a3", "r1", "2026-05-05T08:00:00+02:00"),
            shift("s4", "a4", "r1", "2026-05-06T08:00:00+02:00"),
            shift("s5", "a5", "r2", "2026-05-07T08:00:00+02:00"),
            shift("s6", "a6", "r1", "2026-05-08T08:00:00+02:00"),
            shift("s7a", "a7", "r2", "2026-05-09T08:00:00+02:00"),
            shift("s7b", "a7", "r1", "2026-05-10T08:00:00+02:00", reported=True),
            shift("s8", "a8", "r3", "2026-06-01T00:30:00+02:00"),
            shift("s9", "a9", "r3", "2026-05-31T23:30:00+02:00", hours=1),
            shift("s10", "a10", "r3", "2026-05-12T08:00:00+02:00", reported=True, signed=False),
        ],
        "reminder_history": [
            {"staff": "a6", "month": "2026-05", "sent_at": "2026-06-02T09:00:00+02:00"},
            {"staff": "a10", "month": "2026-05", "sent_at": "2026-06-02T07:00:00+02:00"},
        ],
    }


# What the coordinator reads after PÅMINN ALLA maj on may_org(): who was held back, and why.
MAY_HELD = ("1 har påminnelser avstängda, 1 arbetar hos brukare med påminnelser avstängda, 1 saknar mobilnummer, "
            "1 fick påminnelse de senaste 2 timmarna")
MAY_ROUND_REPLY = (f"4 påminnelser för maj 2026 skickade (4 SMS-delar).\nInte skickade: {MAY_HELD}.\n"
                   "1 har redan rapporterat allt.")


def reminder(month: str = "maj 2026") -> str:
    return ("Hej! Det här är en påminnelse om att du har pass kvar att närvaroregistrera/signera i Coordinare "
            f"för {month} https://app.coordinare.se")


async def load(harness, doc: dict) -> dict:
    return await run_import(harness.services, doc)


async def set_team_chat(harness, org_id: str = "org1", address: str = "simulator:team") -> None:
    from sqlalchemy import update

    from core.models import Organisation

    async with harness.services.sessions.begin() as session:
        await session.execute(update(Organisation).where(Organisation.id == org_id).values(team_chat=address))


async def team_messages(harness) -> list[str]:
    rows = await harness.rows("SELECT body FROM outbox WHERE kind = 'team' ORDER BY id")
    return [r[0] for r in rows]

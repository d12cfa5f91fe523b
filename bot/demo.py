"""A realistic demo organisation, built relative to today so it always has a last and a this month."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.months import Month, month_of

FIRST = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Mikael", "Emma", "Anders", "Elin", "Per",
         "Linnea", "Fredrik", "Ida", "Magnus", "Hanna", "Jonas", "Sofia", "Niklas", "Maja", "Oskar", "Ebba",
         "Viktor", "Alva", "Gustav", "Wilma", "Axel", "Klara", "Hugo", "Astrid", "Filip", "Elsa", "Isak",
         "Freja", "Ali", "Amina", "Leo", "Nora", "Samir", "Greta", "Omar"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
        "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist", "Berg", "Holm", "Ekström",
        "Sandberg", "Lund", "Forsberg", "Sjöberg", "Wallin", "Engström", "Hassan", "Åberg", "Öberg"]
RECIPIENTS = ["Rolf Brukare", "Ingrid Holmgren", "Bertil Åkesson", "Gunnel Strand", "Sven Dahl",
              "Margit Nyberg", "Kjell Björk", "Ulla Fors"]

COORDINATOR_MOBILE = "+46701110000"
TEAM_CHAT = "simulator:team"


def demo_document(now: datetime, assistants: int = 40, tz_name: str = "Europe/Stockholm", seed: int = 7) -> dict:
    """The import document for the demo organisation, with shifts in last month and this month."""
    rng = random.Random(seed)
    tz = ZoneInfo(tz_name)
    this = month_of(now, tz_name)
    last = this.shift(-1)
    staff = [
        {"id": "c1", "name": "Karin Koordinator", "mobile": COORDINATOR_MOBILE, "roles": ["coordinator"]},
        {"id": "l1", "name": "Lisa Arbetsledare", "mobile": "+46701110001", "roles": ["supervisor"]},
        {"id": "l2", "name": "Leif Arbetsledare", "mobile": "+46701110002", "roles": ["supervisor"]},
    ]
    if assistants < 1:
        raise ValueError("the demo needs at least 1 assistant")
    names = _names(rng, assistants)
    for i, name in enumerate(names, start=1):
        staff.append({
            "id": f"a{i}", "name": name, "mobile": None if i in (6, 7) else f"+4670200{i:04d}",
            "roles": ["assistant"], "reminders_enabled": i != 5,
            "email": f"{name.split()[0].lower()}.{i}@example.se",
            # Demo numbers only: never real personal numbers.
            "personal_number": f"19900101-{1000 + i}", "sd_number": f"SD{i:04d}",
        })
    recipients = [{"id": f"r{j}", "name": name, "reminders_enabled": j != 8,
                   "supervisors": ["l1"] if j <= 4 else ["l2"]} for j, name in enumerate(RECIPIENTS, start=1)]
    shifts = []
    for i in range(1, assistants + 1):
        home = f"r{(i - 1) % len(RECIPIENTS) + 1}"
        for month in (last, this):
            days = _days_so_far(month, now, tz)
            for n, day in enumerate(sorted(rng.sample(days, min(len(days), 4)))):
                start = datetime(month.year, month.month, day, 8, 0, tzinfo=tz)
                # Most of last month is done: every third assistant has something left, plus the special cases.
                finished = month == last and (i % 3 != 0) and i not in (5, 6, 7, 8, 9)
                if month == last and i == 9:  # unsigned but reported
                    reported, signed = True, n != 0
                else:
                    reported = signed = finished
                shifts.append({"id": f"s{i}-{month.key}-{n}", "staff": f"a{i}", "care_recipient": home,
                               "start": start.isoformat(), "end": (start + timedelta(hours=8)).isoformat(),
                               "reported": reported, "signed": signed})
    # Someone reminded an hour ago, to show the 2-hour rule: a3 has shifts left; a small demo takes its last one.
    history = [{"staff": f"a{min(3, assistants)}", "month": last.key,
                "sent_at": (now - timedelta(hours=1)).astimezone(tz).isoformat()}]
    return {
        "organisation": {"id": "demo", "name": "Assistans Norr AB (demo)", "app_name": "Coordinare",
                         "app_link": "https://app.coordinare.se", "timezone": tz_name, "locale": "sv",
                         "quiet_hours": "off"},
        "staff": staff, "care_recipients": recipients, "shifts": shifts, "reminder_history": history,
    }


def _names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct assistant names (the first 42 as the demo always had them, then more combinations)."""
    pool = FIRST * 2
    drawn = min(len(pool), count * 2)
    names = sorted({f"{first} {last}" for first, last in zip(rng.sample(pool, drawn),
                                                            rng.choices(LAST, k=drawn))})[:count]
    rng.shuffle(names)
    if len(names) < count:  # more than the first draw gave: every other first-last pair, then numbered
        taken = set(names)
        rest = [f"{first} {last}" for first in FIRST for last in LAST if f"{first} {last}" not in taken]
        rng.shuffle(rest)
        names += rest[:count - len(names)]
        names += [f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]} {n}" for n in range(len(names), count)]
    return names


def _days_so_far(month: Month, now: datetime, tz: ZoneInfo) -> list[int]:
    """Days of ``month`` that are not in the future (a month always has at least its first day)."""
    days = []
    for day in range(1, 32):
        try:
            moment = datetime(month.year, month.month, day, 8, tzinfo=tz)
        except ValueError:
            break
        if moment <= now or day == 1:
            days.append(day)
    return days

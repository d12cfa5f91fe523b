"""The relational model: organisations, people, shifts, reminders, the outbox and inbound log, customers,
visits, events and API keys — one module per subject, named as ``core/store``'s modules are.

Host-system ids are kept as ``external_id`` beside our own integer keys, so that imports can upsert by the
host's id while joins stay cheap. All times are stored as naive UTC (see ``_base.UTCDateTime``) because
SQLite drops offsets and asyncpg refuses aware values in ``timestamp`` columns.

Every model is importable from ``core.models`` (as the store, the migrations and the tests import them), and
importing this package defines every table, so ``Base.metadata`` is whole.
"""
from core.models._base import Base, BigId, UTCDateTime
from core.models.api_keys import ApiAudit, ApiKey
from core.models.customers import Customer, CustomerReminder
from core.models.events import Event, NotificationTemplate
from core.models.inbound import InboundMessage
from core.models.organisations import CareRecipient, Organisation, Shift, Staff, Supervision
from core.models.outbox import ChannelState, OutboxMessage
from core.models.rounds import AutoRoundSlot, Escalation, ReminderHistory, ReminderRound
from core.models.visit_buffer import Visit

__all__ = [
    "ApiAudit", "ApiKey", "AutoRoundSlot", "Base", "BigId", "CareRecipient", "ChannelState", "Customer",
    "CustomerReminder", "Escalation", "Event", "InboundMessage", "NotificationTemplate", "Organisation",
    "OutboxMessage", "ReminderHistory", "ReminderRound", "Shift", "Staff", "Supervision", "UTCDateTime", "Visit",
]

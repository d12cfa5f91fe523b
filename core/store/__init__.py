"""Every database query the service makes, reached through functions, one module per subject.

Selection is set-based (one query per month and scope, whatever the organisation's size)
and writes are bulk. Functions take an AsyncSession and never commit: the caller owns the
transaction, so a decision and the messages it causes land together or not at all.

Callers write ``from core import store`` and ``store.enqueue(...)``; this package re-exports
each module's public functions. Where a subject's queries live:

- ``organisations``      organisations and their people: look-ups, the round lock, opt-out, names
- ``candidates``         the month's candidates: unfinished shifts, the 2-hour rule, what is left
- ``rounds``             reminder rounds, their history, acknowledgements, the month's funnel
- ``outbox``             queueing messages, claims and leases, a send's outcome, validity, status callbacks
- ``channels``           channel health shared by every worker (down, back up, probes)
- ``inbound``            inbound messages stored once, stored Telegram updates
- ``customers``          customers and their contacts
- ``customer_reminders`` claiming due customer reminders, their state, listing them
- ``events``             event notifications: templates and events stored once
- ``visit_buffer``       the integration buffer of visits: waiting or ready, leases, acknowledgements
- ``imports``            applying an import plan: upserts by host id, retiring what a list lacks
- ``deletion``           deleting what a host no longer has, cancelling its unsent messages
- ``api_keys``           API keys and the audit of their use
- ``auto_rounds``        automatic round slots and escalation to supervisors
- ``simulator``          the phone simulator's view and the simulated organisations
- ``personal_data``      a person's data: finding them, export, erasure, retention
- ``_common``            shared helpers: bulk inserts (COPY on PostgreSQL), IN-list slices, shared conditions
"""
from __future__ import annotations

from core.store.organisations import (
    get_org, count_orgs, lock_org_for_round, orgs_by_ids, all_orgs, staff_by_mobile, staff_by_telegram,
    staff_by_addresses, list_staff, staff_by_ids, staff_by_external_ids, staff_with_roles, supervised_recipient_ids,
    find_by_name, staff_ids_with_shifts, set_opt_out, mark_mobile_invalid,
)
from core.store.candidates import (
    select_candidates, count_with_shifts, left_by_staff, month_has_unfinished,
)
from core.store.rounds import (
    add_round, add_history, copy_history, latest_unacknowledged_by_staff, acknowledge_reminders,
    rounds_awaiting_completion, mark_rounds_complete, month_funnel, expired_reminder_rounds,
)
from core.store.outbox import (
    ACCEPTED_STATUSES, WAITING_STATUSES, enqueue, set_payload, pending_team_message,
    orgs_with_key_prefix, outbox_by_key_prefixes, expire_leases, mark_provider_call, claim_due, finish_claimed,
    start_validity, expire_overdue, STATUS_RANK, apply_status,
)
from core.store.channels import (
    record_channel_health, channel_is_clean, down_channels, take_probe, waiting_by_org,
)
from core.store.inbound import (
    INBOUND_OPTIONAL, claim_inbound, set_inbound_replies, mark_update_processed, unprocessed_updates,
    count_update_failure,
)
from core.store.customers import (
    customers_by_ids, customer_by_external_id, customers_with_contact,
)
from core.store.customer_reminders import (
    claim_due_customer_reminders, CUSTOMER_REMINDER_STATE, customer_reminder_state, lock_customer_reminders,
    update_customer_reminders, customer_reminder_rows,
)
from core.store.events import (
    templates_for, claim_event, event_by_external_id,
)
from core.store.visit_buffer import (
    refresh_buffer, lease_visits, acknowledge_visits, waiting_visits,
)
from core.store.imports import (
    STAFF_FIELDS, CUSTOMER_FIELDS, VISIT_FIELDS, TEMPLATE_FIELDS, CUSTOMER_REMINDER_FIELDS, SCHEDULE_FIELDS,
    RECIPIENT_FIELDS, SHIFT_FIELDS, known_ids, apply_import, Retirement, CANCELS,
)
from core.store.deletion import (
    SOURCE_PART, cancel_pending, cancel_pending_to_staff, DELETABLE, delete_record,
)
from core.store.api_keys import (
    api_key_named, add_api_key, list_api_keys, revoke_api_key, active_api_key, any_active_api_key, LAST_USED_GRAIN,
    touch_api_key, add_audit, audit_rows,
)
from core.store.auto_rounds import (
    orgs_with_auto_rounds, claim_auto_round_slot, link_slot_round, accepted_reminder_counts, claim_escalations,
    supervisors_of_unfinished,
)
from core.store.simulator import (
    simulator_feed, simulator_may_act_as, first_simulated_org, mark_simulated,
)
from core.store.personal_data import (
    staff_by_host_id, care_recipient_by_host_id, customers_listing_contact, messages_of_person, staff_export,
    care_recipient_export, contact_export, erase_person_data, blank_old_bodies,
)
from core.store._common import (
    COPY_THRESHOLD, bulk_insert,
)

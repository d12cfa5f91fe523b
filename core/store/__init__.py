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

from core.store._common import (
    COPY_THRESHOLD,
    bulk_insert,
)
from core.store.api_keys import (
    LAST_USED_GRAIN,
    active_api_key,
    add_api_key,
    add_audit,
    any_active_api_key,
    api_key_named,
    audit_rows,
    list_api_keys,
    revoke_api_key,
    touch_api_key,
)
from core.store.auto_rounds import (
    accepted_reminder_counts,
    claim_auto_round_slot,
    claim_escalations,
    link_slot_round,
    orgs_with_auto_rounds,
    supervisors_of_unfinished,
)
from core.store.candidates import (
    count_with_shifts,
    left_by_staff,
    month_has_unfinished,
    select_candidates,
)
from core.store.channels import (
    channel_is_clean,
    channel_states,
    down_channels,
    record_channel_health,
    take_probe,
    waiting_by_org,
)
from core.store.customer_reminders import (
    CUSTOMER_REMINDER_STATE,
    claim_due_customer_reminders,
    customer_reminder_rows,
    customer_reminder_state,
    lock_customer_reminders,
    update_customer_reminders,
)
from core.store.customers import (
    customer_by_external_id,
    customers_by_ids,
    customers_with_contact,
)
from core.store.deletion import (
    DELETABLE,
    SOURCE_PART,
    cancel_pending,
    cancel_pending_to_staff,
    delete_record,
)
from core.store.events import (
    claim_event,
    event_by_external_id,
    templates_for,
)
from core.store.imports import (
    CANCELS,
    CUSTOMER_FIELDS,
    CUSTOMER_REMINDER_FIELDS,
    RECIPIENT_FIELDS,
    SCHEDULE_FIELDS,
    SHIFT_FIELDS,
    STAFF_FIELDS,
    TEMPLATE_FIELDS,
    VISIT_FIELDS,
    Retirement,
    apply_import,
    known_ids,
)
from core.store.inbound import (
    INBOUND_OPTIONAL,
    claim_inbound,
    count_update_failure,
    mark_update_processed,
    set_inbound_replies,
    unprocessed_updates,
)
from core.store.organisations import (
    all_orgs,
    count_orgs,
    find_by_name,
    get_org,
    list_staff,
    lock_org_for_round,
    mark_mobile_invalid,
    orgs_by_ids,
    set_opt_out,
    staff_by_addresses,
    staff_by_external_ids,
    staff_by_ids,
    staff_by_mobile,
    staff_by_telegram,
    staff_ids_with_shifts,
    staff_with_roles,
    supervised_recipient_ids,
)
from core.store.outbox import (
    ACCEPTED_STATUSES,
    STATUS_RANK,
    WAITING_STATUSES,
    apply_status,
    backlog,
    claim_due,
    enqueue,
    expire_leases,
    expire_overdue,
    finish_claimed,
    mark_provider_call,
    orgs_with_key_prefix,
    outbox_by_key_prefixes,
    pending_team_message,
    set_payload,
    start_validity,
)
from core.store.personal_data import (
    blank_old_bodies,
    care_recipient_by_host_id,
    care_recipient_export,
    contact_export,
    customers_listing_contact,
    erase_person_data,
    messages_of_person,
    staff_by_host_id,
    staff_export,
)
from core.store.rounds import (
    acknowledge_newest,
    add_history,
    add_round,
    copy_history,
    expired_reminder_rounds,
    mark_rounds_complete,
    month_funnel,
    rounds_awaiting_completion,
)
from core.store.simulator import (
    first_simulated_org,
    mark_simulated,
    simulator_feed,
    simulator_may_act_as,
)
from core.store.visit_buffer import (
    acknowledge_visits,
    lease_visits,
    refresh_buffer,
    waiting_visits,
)

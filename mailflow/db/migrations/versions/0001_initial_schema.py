"""Create the initial schema

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa
import mailflow.db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('address_status',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('bounced_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bounce_status', sa.String(length=20), nullable=True),
    sa.Column('bounce_count', sa.Integer(), nullable=False),
    sa.Column('last_error_reply_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_address_status'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('mentor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('source_message_id', sa.String(length=998), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_source_message_id'), ['source_message_id'], unique=False)

    op.create_table('intake_attempt',
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_started_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('raw_sha256', name=op.f('pk_intake_attempt'))
    )
    op.create_table('lease',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('expires_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lease'))
    )
    op.create_table('mentor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_number', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kana', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('mobile', sa.String(length=40), nullable=True),
    sa.Column('postal_code', sa.String(length=10), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_changed_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('email_bouncing', sa.Boolean(), nullable=False),
    sa.Column('bounce_status', sa.String(length=20), nullable=True),
    sa.Column('created_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor')),
    sa.UniqueConstraint('registration_number', name=op.f('uq_mentor_registration_number'))
    )
    with op.batch_alter_table('mentor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_mentor_expires_on'), ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_mentor_status'), ['status'], unique=False)

    op.create_table('review_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('sender_address', sa.String(length=320), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('applicant_name', sa.String(length=200), nullable=True),
    sa.Column('applicant_email', sa.String(length=320), nullable=True),
    sa.Column('mentor_id', sa.Integer(), nullable=True),
    sa.Column('form_values', sa.JSON(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('by_post', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('manual_checks', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('thread_ids', sa.JSON(), nullable=False),
    sa.Column('token', sa.String(length=20), nullable=True),
    sa.Column('token_expires_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('complete_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('receipt_due_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_state', sa.String(length=20), nullable=True),
    sa.Column('decided_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentor.id'], name=op.f('fk_review_item_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_item')),
    sa.UniqueConstraint('number', name=op.f('uq_review_item_number')),
    sa.UniqueConstraint('token', name=op.f('uq_review_item_token'))
    )
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_item_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_item_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_item_sender_address'), ['sender_address'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_item_state'), ['state'], unique=False)

    op.create_table('inbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('raw_encrypted', sa.Boolean(), nullable=False),
    sa.Column('redacted', sa.Boolean(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('received_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('folder', sa.String(length=20), nullable=True),
    sa.Column('moved_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=True),
    sa.Column('decision', sa.String(length=30), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('defects', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sender_address', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('sent_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('in_reply_to', sa.String(length=998), nullable=True),
    sa.Column('references', sa.JSON(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('processed_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('raw_purged_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('mailbox_sha256', sa.String(length=64), nullable=True),
    sa.Column('mailbox_update_due', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['review_item.id'], name=op.f('fk_inbound_message_item_id_review_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_message')),
    sa.UniqueConstraint('raw_sha256', name=op.f('uq_inbound_message_raw_sha256'))
    )
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_message_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_mailbox_update_due'), ['mailbox_update_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_sender_address'), ['sender_address'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_message_state'), ['state'], unique=False)

    op.create_table('mentor_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['review_item.id'], name=op.f('fk_mentor_history_item_id_review_item')),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentor.id'], name=op.f('fk_mentor_history_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_history'))
    )
    with op.batch_alter_table('mentor_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_history_mentor_id'), ['mentor_id'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('part_id', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=True),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('sniffed_type', sa.String(length=30), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('storage_id', sa.String(length=200), nullable=True),
    sa.Column('kept', sa.Boolean(), nullable=False),
    sa.Column('identity_type', sa.String(length=40), nullable=True),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('held_reason', sa.Text(), nullable=True),
    sa.Column('created_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('purged_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('purge_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_message.id'], name=op.f('fk_document_inbound_message_id_inbound_message')),
    sa.ForeignKeyConstraint(['item_id'], ['review_item.id'], name=op.f('fk_document_item_id_review_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_inbound_message_id'), ['inbound_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_item_id'), ['item_id'], unique=False)

    op.create_table('mailbox_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid_key', sa.String(length=300), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['inbound_message.id'], name=op.f('fk_mailbox_entry_message_id_inbound_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_entry')),
    sa.UniqueConstraint('source', 'uidvalidity', 'uid_key', name='uq_mailbox_entry_location')
    )
    with op.batch_alter_table('mailbox_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_entry_message_id'), ['message_id'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('host', sa.Text(), nullable=True),
    sa.Column('venue', sa.Text(), nullable=True),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('companies', sa.JSON(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('sender_address', sa.String(length=320), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('receipt_due_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_event_document_id_document')),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_message.id'], name=op.f('fk_event_inbound_message_id_inbound_message')),
    sa.ForeignKeyConstraint(['item_id'], ['review_item.id'], name=op.f('fk_event_item_id_review_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=998), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('mentor_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('due_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_until', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('smtp_code', sa.Integer(), nullable=True),
    sa.Column('smtp_reply', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', mailflow.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_outbox_event_id_event')),
    sa.ForeignKeyConstraint(['item_id'], ['review_item.id'], name=op.f('fk_outbox_item_id_review_item')),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentor.id'], name=op.f('fk_outbox_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_outbox_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mentor_id'), ['mentor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_mentor_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_kind'))
        batch_op.drop_index(batch_op.f('ix_outbox_item_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_event_id'))

    op.drop_table('outbox')
    op.drop_table('event')
    with op.batch_alter_table('mailbox_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailbox_entry_message_id'))

    op.drop_table('mailbox_entry')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_item_id'))
        batch_op.drop_index(batch_op.f('ix_document_inbound_message_id'))

    op.drop_table('document')
    with op.batch_alter_table('mentor_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mentor_history_mentor_id'))

    op.drop_table('mentor_history')
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_message_state'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_sender_address'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_message_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_mailbox_update_due'))
        batch_op.drop_index(batch_op.f('ix_inbound_message_item_id'))

    op.drop_table('inbound_message')
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_item_state'))
        batch_op.drop_index(batch_op.f('ix_review_item_sender_address'))
        batch_op.drop_index(batch_op.f('ix_review_item_mentor_id'))
        batch_op.drop_index(batch_op.f('ix_review_item_kind'))

    op.drop_table('review_item')
    with op.batch_alter_table('mentor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mentor_status'))
        batch_op.drop_index(batch_op.f('ix_mentor_expires_on'))
        batch_op.drop_index(batch_op.f('ix_mentor_email'))

    op.drop_table('mentor')
    op.drop_table('lease')
    op.drop_table('intake_attempt')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_source_message_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_mentor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_item_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('address_status')

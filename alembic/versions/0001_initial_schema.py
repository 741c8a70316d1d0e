"""Initial schema: every table of DESIGN.md section 4.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 12:43:06.916330
"""
import sqlalchemy as sa

from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('server', sa.String(length=255), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('secure', sa.Boolean(), nullable=False),
    sa.Column('accept_ipv4', sa.Boolean(), nullable=False),
    sa.Column('accept_ipv6', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('name', name=op.f('uq_services_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('date_joined', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('last_failed_login', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    # Expression indexes: alembic cannot autogenerate these on SQLite, so they are written by hand.
    op.create_index('uq_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
    op.create_index('ix_users_email_lower', 'users', [sa.text('lower(email)')], unique=False)
    op.create_table('blacklisted_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name_re', sa.String(length=255), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_update', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_blacklisted_hosts_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blacklisted_hosts')),
    sa.UniqueConstraint('name_re', name=op.f('uq_blacklisted_hosts_name_re'))
    )
    with op.batch_alter_table('blacklisted_hosts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blacklisted_hosts_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('backend', sa.String(length=64), nullable=False),
    sa.Column('nameserver_ip', sa.String(length=45), nullable=False),
    sa.Column('nameserver2_ip', sa.String(length=45), nullable=False),
    sa.Column('nameserver_port', sa.Integer(), nullable=False),
    sa.Column('tsig_key_name', sa.String(length=253), nullable=False),
    sa.Column('tsig_algorithm', sa.String(length=16), nullable=False),
    sa.Column('tsig_secret', sa.String(length=255), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=True),
    sa.Column('last_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_check', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_ok', sa.Boolean(), nullable=True),
    sa.Column('check_result', sa.Text(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_domains_owner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domains')),
    sa.UniqueConstraint('name', name=op.f('uq_domains_name'))
    )
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_domains_owner_id'), ['owner_id'], unique=False)

    op.create_table('remote_logins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_user_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_remote_logins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remote_logins')),
    sa.UniqueConstraint('provider', 'provider_user_id', name=op.f('uq_remote_logins_provider'))
    )
    with op.batch_alter_table('remote_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remote_logins_user_id'), ['user_id'], unique=False)

    op.create_table('hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('fqdn', sa.String(length=253), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('update_secret_hash', sa.String(length=255), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('abuse', sa.Boolean(), nullable=False),
    sa.Column('abuse_blocked', sa.Boolean(), nullable=False),
    sa.Column('client_faults', sa.Integer(), nullable=False),
    sa.Column('server_faults', sa.Integer(), nullable=False),
    sa.Column('api_auth_faults', sa.Integer(), nullable=False),
    sa.Column('client_result_msg', sa.String(length=255), nullable=False),
    sa.Column('server_result_msg', sa.String(length=255), nullable=False),
    sa.Column('api_auth_result_msg', sa.String(length=255), nullable=False),
    sa.Column('recent_auth_failures', sa.Integer(), nullable=False),
    sa.Column('last_auth_failure', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_update_ipv4', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_update_ipv6', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tls_update_ipv4', sa.Boolean(), nullable=False),
    sa.Column('tls_update_ipv6', sa.Boolean(), nullable=False),
    sa.Column('published_ipv4', sa.String(length=45), nullable=False),
    sa.Column('published_ipv6', sa.String(length=45), nullable=False),
    sa.Column('netmask_ipv4', sa.Integer(), nullable=False),
    sa.Column('netmask_ipv6', sa.Integer(), nullable=False),
    sa.Column('lan_ip', sa.String(length=45), nullable=False),
    sa.Column('wildcard', sa.Boolean(), nullable=False),
    sa.Column('staleness', sa.Integer(), nullable=False),
    sa.Column('staleness_notified', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_hosts_domain_id_domains'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_hosts_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hosts')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_hosts_domain_id')),
    sa.UniqueConstraint('fqdn', name=op.f('uq_hosts_fqdn'))
    )
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hosts_owner_id'), ['owner_id'], unique=False)

    op.create_table('zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('serial', sa.BigInteger(), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_zones_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zones')),
    sa.UniqueConstraint('domain_id', name=op.f('uq_zones_domain_id')),
    sa.UniqueConstraint('name', name=op.f('uq_zones_name'))
    )
    op.create_table('records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('rtype', sa.String(length=10), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=True),
    sa.Column('data', sa.String(length=1024), nullable=False),
    sa.Column('lan_data', sa.String(length=1024), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['zones.id'], name=op.f('fk_records_zone_id_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_zone_name_type', ['zone_id', 'name', 'rtype'], unique=False)

    op.create_table('related_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('interface_id_ipv4', sa.String(length=15), nullable=False),
    sa.Column('interface_id_ipv6', sa.String(length=39), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['hosts.id'], name=op.f('fk_related_hosts_host_id_hosts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_related_hosts')),
    sa.UniqueConstraint('host_id', 'name', name=op.f('uq_related_hosts_host_id'))
    )
    op.create_table('service_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('password', sa.String(length=255), nullable=False),
    sa.Column('give_ipv4', sa.Boolean(), nullable=False),
    sa.Column('give_ipv6', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('last_result', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['hosts.id'], name=op.f('fk_service_configs_host_id_hosts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_configs_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_configs'))
    )
    with op.batch_alter_table('service_configs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_configs_host_id'), ['host_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_configs_service_id'), ['service_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('service_configs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_configs_service_id'))
        batch_op.drop_index(batch_op.f('ix_service_configs_host_id'))

    op.drop_table('service_configs')
    op.drop_table('related_hosts')
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_zone_name_type')

    op.drop_table('records')
    op.drop_table('zones')
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hosts_owner_id'))

    op.drop_table('hosts')
    with op.batch_alter_table('remote_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remote_logins_user_id'))

    op.drop_table('remote_logins')
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domains_owner_id'))

    op.drop_table('domains')
    with op.batch_alter_table('blacklisted_hosts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blacklisted_hosts_created_by_id'))

    op.drop_table('blacklisted_hosts')
    op.drop_index('ix_users_email_lower', table_name='users')
    op.drop_index('uq_users_username_lower', table_name='users')
    op.drop_table('users')
    op.drop_table('services')

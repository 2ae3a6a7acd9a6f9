-- Signed-in staff in the admin UI. The cookie holds a random token; only its SHA-256 is kept,
-- so a copy of the database does not sign anyone in. The CSRF token is per session.
create table admin_sessions (
    id_hash text primary key,
    tenant_id text not null,
    staff_id text not null,
    csrf_token text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index admin_sessions_expires on admin_sessions (expires_at);
-- Signing in names no tenant: find the account by e-mail across tenants.
create index staff_users_email on staff_users (email);

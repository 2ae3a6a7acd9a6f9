-- Failed sign-ins, shared by every instance on this database (app::throttle): one row per
-- account e-mail or client network. Sign-in happens before a tenant is known, so this table
-- belongs to the installation.
create table sign_in_failures (
    subject text primary key,
    failures bigint not null,
    last_failure_at bigint not null,
    blocked_until bigint not null
);

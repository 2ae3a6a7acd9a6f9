-- PostgreSQL only (fillfactor for HOT updates of members); SQLite updates rows in place.
select 1;

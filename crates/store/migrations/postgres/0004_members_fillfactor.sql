-- Every order rewrites its member's balances. Leaving room on each page lets PostgreSQL update
-- the row in place (a HOT update) instead of adding an entry to every index of members.
alter table members set (fillfactor = 70);

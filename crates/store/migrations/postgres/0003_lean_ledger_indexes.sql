-- A member's live lots are found through ledger_entries_member (a member has tens of entries a
-- year); the partial index cost every earning one more random page write.
drop index ledger_entries_live_lots;

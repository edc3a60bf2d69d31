DROP TRIGGER controlled_ledger_no_delete;
DROP TRIGGER controlled_ledger_no_update;
DROP TABLE controlled_ledger;
DROP TABLE controlled_stock;

DROP TABLE controlled_ledger;
DROP FUNCTION controlled_ledger_append_only();
DROP TABLE controlled_stock;

-- The controlled-drug ledger (麻薬帳簿; 向精神薬 records): one perpetual, hash-chained
-- chain of entries per pharmacy and product, and the chain's head (balance, last
-- sequence number and hash), which every entry updates in its own transaction —
-- the head's row lock serialises writers, so the balance stays exact.

CREATE TABLE controlled_stock (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    product TEXT NOT NULL,                -- YJ code
    product_name TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('narcotic', 'psychotropic')),
    unit TEXT NOT NULL,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, product)
);

CREATE TABLE controlled_ledger (
    pharmacy_id TEXT NOT NULL,
    product TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('received', 'dispensed', 'handed_over', 'returned', 'disposed', 'accident')),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit TEXT NOT NULL,
    lot TEXT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    actor TEXT NOT NULL,
    witness TEXT NOT NULL,
    reference TEXT NOT NULL,              -- prescription id, wholesaler slip, report number
    note TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, product, seq),
    FOREIGN KEY (pharmacy_id, product) REFERENCES controlled_stock (pharmacy_id, product)
);
CREATE INDEX controlled_ledger_time ON controlled_ledger (pharmacy_id, occurred_at);

-- Entries are never changed or removed (the guard `pharmacy ledger verify` backs up).
CREATE TRIGGER controlled_ledger_no_update BEFORE UPDATE ON controlled_ledger
BEGIN
    SELECT RAISE(ABORT, 'controlled_ledger is append-only');
END;
CREATE TRIGGER controlled_ledger_no_delete BEFORE DELETE ON controlled_ledger
BEGIN
    SELECT RAISE(ABORT, 'controlled_ledger is append-only');
END;

-- Home deliveries (issue 8, first part): a parcel made of dispensed prescriptions
-- whose guidance is completed, its contents, the method the contents allow, and
-- every step it passes with who, when and where.

CREATE TABLE deliveries (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies (id),
    id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('pharmacy_staff', 'courier', 'pickup')),
    state TEXT NOT NULL CHECK (state IN ('prepared', 'sealed', 'handed_to_courier', 'out_for_delivery', 'delivered', 'failed_attempt', 'returned_to_pharmacy')),
    destination TEXT NOT NULL,
    recipient_rules TEXT NOT NULL,
    handling_notes TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,      -- UTC
    window_end TIMESTAMP NOT NULL,
    requirements TEXT NOT NULL,           -- why the method needed confirmation, a logger, ...
    needs_logger BOOLEAN NOT NULL,
    method_confirmed_by TEXT,
    courier_id TEXT,
    seal_number TEXT,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, id),
    FOREIGN KEY (pharmacy_id, patient_id) REFERENCES patients (pharmacy_id, id)
);
CREATE INDEX deliveries_state ON deliveries (pharmacy_id, state, window_start);

-- A prescription travels in one delivery.
CREATE TABLE delivery_prescriptions (
    pharmacy_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, prescription_id)
);

CREATE TABLE delivery_items (
    pharmacy_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    dispensed_item_id TEXT NOT NULL,
    prescription_id TEXT NOT NULL,
    product_code TEXT NOT NULL,
    product_name TEXT NOT NULL,
    quantity TEXT NOT NULL,
    lot TEXT,
    PRIMARY KEY (pharmacy_id, delivery_id, dispensed_item_id)
);

CREATE TABLE delivery_events (
    pharmacy_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    place TEXT NOT NULL,
    note TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    PRIMARY KEY (pharmacy_id, delivery_id, seq)
);

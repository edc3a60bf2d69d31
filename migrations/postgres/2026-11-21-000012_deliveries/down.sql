DROP TABLE delivery_events;
DROP TABLE delivery_items;
DROP TABLE delivery_prescriptions;
DROP TABLE deliveries;

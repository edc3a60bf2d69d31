DROP TABLE drug_ingredients;
DROP TABLE drug_products;
DROP TABLE drug_master_imports;

-- National drug master (reference data shared by every pharmacy): products from
-- the MHLW 薬価基準収載品目リスト and the SSK レセ電 医薬品マスター, their
-- ingredients, and a record of every import.

CREATE TABLE drug_master_imports (
    id TEXT PRIMARY KEY NOT NULL,
    source TEXT NOT NULL,                 -- mhlw, y_master, curated
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    edition TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    added INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    delisted INTEGER NOT NULL,
    rejected INTEGER NOT NULL
);

CREATE TABLE drug_products (
    yj_code TEXT PRIMARY KEY NOT NULL,    -- 薬価基準収載医薬品コード (12)
    receipt_code TEXT,                    -- レセ電コード (9 digits)
    general_name_code TEXT,               -- 一般名コード
    general_name TEXT,                    -- 一般名処方の標準的な記載
    name TEXT NOT NULL,                   -- 品名
    name_kana TEXT,
    ingredient_text TEXT NOT NULL,        -- 成分名 as listed
    standard TEXT NOT NULL,               -- 規格
    category TEXT NOT NULL,               -- 内用薬, 注射薬, 外用薬, 歯科用薬剤
    route TEXT NOT NULL,                  -- oral, injection, external, dental
    maker TEXT NOT NULL,
    price TEXT NOT NULL,
    search_text TEXT NOT NULL,            -- normalised name, kana and ingredients
    narcotic TEXT NOT NULL,               -- yes / no / unknown
    psychotropic TEXT NOT NULL,
    psychotropic_class TEXT,
    stimulant_precursor TEXT NOT NULL,
    poison TEXT NOT NULL,
    powerful TEXT NOT NULL,
    refrigerated TEXT NOT NULL,
    storage_min_c INTEGER,
    storage_max_c INTEGER,
    transitional_until DATE,              -- 経過措置による使用期限
    delisted_edition TEXT,                -- absent from the MHLW list since this edition
    first_edition TEXT NOT NULL,
    last_edition TEXT NOT NULL,
    source TEXT NOT NULL,                 -- mhlw, y_master, curated
    mhlw_hash TEXT,
    y_hash TEXT,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX drug_products_receipt_code ON drug_products (receipt_code);
CREATE INDEX drug_products_general_name_code ON drug_products (general_name_code);

CREATE TABLE drug_ingredients (
    yj_code TEXT NOT NULL REFERENCES drug_products (yj_code),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,                   -- one ingredient, normalised
    curated BOOLEAN NOT NULL,             -- from the curated component table
    PRIMARY KEY (yj_code, position)
);
CREATE INDEX drug_ingredients_name ON drug_ingredients (name);

-- Each product's list of defect types (scratch, dent, …): the names a person picks when labelling,
-- in the order they are listed (number keys 1–9 pick the first nine), each with the colour its chips
-- and masks are drawn in. Names are unique per product whatever their case ('Scratch' = 'scratch').
-- images.defect_type stays the label itself (text): renaming a type rewrites the images that carry it.
CREATE TABLE defect_types (
  id          INTEGER PRIMARY KEY,
  product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  name        TEXT NOT NULL COLLATE NOCASE CHECK (length(trim(name)) > 0 AND length(name) <= 200),
  colour      TEXT NOT NULL CHECK (length(colour) = 7 AND colour GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
  position    INTEGER NOT NULL CHECK (position >= 0),
  created_at  TEXT NOT NULL,
  UNIQUE (product_id, name)
);
CREATE INDEX defect_types_by_product ON defect_types (product_id, position);

-- The free-text defect types images already carry become each product's list, in order of first use,
-- coloured from the same palette new types get (store/defect-types.ts PALETTE).
INSERT OR IGNORE INTO defect_types (product_id, name, colour, position, created_at)
SELECT product_id, defect_type,
       CASE (rank - 1) % 10 WHEN 0 THEN '#ff3b30' WHEN 1 THEN '#ff9f0a' WHEN 2 THEN '#ffd60a' WHEN 3 THEN '#30d158'
         WHEN 4 THEN '#00c7be' WHEN 5 THEN '#64d2ff' WHEN 6 THEN '#ff375f' WHEN 7 THEN '#ac8e68' WHEN 8 THEN '#8bc34a'
         ELSE '#f5a3c7' END,
       rank - 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM (
  SELECT product_id, defect_type, ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY min(id)) AS rank
  FROM images WHERE defect_type IS NOT NULL AND length(trim(defect_type)) > 0
  GROUP BY product_id, defect_type COLLATE NOCASE
);

-- one spelling per type: images that differ from the listed name only in case take the listed one
UPDATE images SET defect_type = (
  SELECT d.name FROM defect_types d WHERE d.product_id = images.product_id AND d.name = images.defect_type
) WHERE defect_type IS NOT NULL
  AND EXISTS (SELECT 1 FROM defect_types d WHERE d.product_id = images.product_id AND d.name = images.defect_type);

-- A product's ignore region (labels, serial numbers, fixtures): drawn once, applied to every image of
-- the product (resized to each image), together with an image's own ignore mask. The PNG is a blob.
ALTER TABLE products ADD COLUMN ignore_sha256 TEXT REFERENCES blobs(sha256);
ALTER TABLE products ADD COLUMN ignore_width INTEGER CHECK (ignore_width IS NULL OR ignore_width > 0);
ALTER TABLE products ADD COLUMN ignore_height INTEGER CHECK (ignore_height IS NULL OR ignore_height > 0);

-- Argus project schema, version 1.
-- Times are ISO-8601 UTC strings. Stored files are named by the sha256 of their bytes; paths kept in
-- rows are relative to the project folder.

-- The project itself: exactly one row.
CREATE TABLE project (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  name        TEXT NOT NULL CHECK (length(name) > 0),
  created_at  TEXT NOT NULL
);

-- Content-addressed files under blobs/ (masks, anomaly maps, model parameters, reports).
-- A row is committed only after its file is durably in place.
CREATE TABLE blobs (
  sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  byte_size   INTEGER NOT NULL CHECK (byte_size >= 0),
  media_type  TEXT NOT NULL,
  created_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE products (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
  description TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL
);

-- Long-running work. A job left "running" by a crash is marked "interrupted" on the next open.
CREATE TABLE jobs (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('import', 'train', 'evaluate', 'refine', 'inspect', 'report')),
  status      TEXT NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
  product_id  INTEGER REFERENCES products(id) ON DELETE SET NULL,
  params_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params_json)),
  progress    REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
  step        TEXT NOT NULL DEFAULT '',
  message     TEXT NOT NULL DEFAULT '',
  error       TEXT,
  created_at  TEXT NOT NULL,
  started_at  TEXT,
  finished_at TEXT
);
CREATE INDEX jobs_by_status ON jobs (status);

CREATE TABLE images (
  id            INTEGER PRIMARY KEY,
  product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  original_path TEXT NOT NULL,
  stored_path   TEXT NOT NULL,
  sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
  byte_size     INTEGER NOT NULL CHECK (byte_size >= 0),
  width         INTEGER NOT NULL CHECK (width > 0),
  height        INTEGER NOT NULL CHECK (height > 0),
  format        TEXT NOT NULL CHECK (format IN ('png', 'jpeg', 'bmp', 'tiff', 'webp')),
  split         TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
  verdict       TEXT NOT NULL DEFAULT 'unlabelled' CHECK (verdict IN ('good', 'defective', 'unlabelled')),
  defect_type   TEXT,
  job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  created_at    TEXT NOT NULL,
  UNIQUE (product_id, sha256)
);
CREATE INDEX images_by_product_split ON images (product_id, split);

-- Ground truth and ignore regions: at most one of each per image, a PNG of the image's size.
CREATE TABLE masks (
  id          INTEGER PRIMARY KEY,
  image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL CHECK (kind IN ('ground_truth', 'ignore')),
  blob_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  width       INTEGER NOT NULL CHECK (width > 0),
  height      INTEGER NOT NULL CHECK (height > 0),
  created_at  TEXT NOT NULL,
  UNIQUE (image_id, kind)
);

-- Models are versioned per product and never overwritten.
CREATE TABLE models (
  id                   INTEGER PRIMARY KEY,
  product_id           INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  version              INTEGER NOT NULL CHECK (version >= 1),
  method               TEXT NOT NULL,
  backbone_id          TEXT NOT NULL,
  backbone_sha256      TEXT NOT NULL CHECK (length(backbone_sha256) = 64),
  config_json          TEXT NOT NULL CHECK (json_valid(config_json)),
  data_manifest_sha256 TEXT NOT NULL CHECK (length(data_manifest_sha256) = 64),
  metrics_json         TEXT CHECK (metrics_json IS NULL OR json_valid(metrics_json)),
  job_id               INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  created_at           TEXT NOT NULL,
  UNIQUE (product_id, version)
);

-- A model's parameters and memory banks, by name ("memory_bank", "mean", ...).
CREATE TABLE model_blobs (
  model_id    INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  name        TEXT NOT NULL CHECK (length(name) > 0),
  blob_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  PRIMARY KEY (model_id, name)
) WITHOUT ROWID;

-- Thresholds are versioned per model, apart from it: re-tuning never needs retraining.
CREATE TABLE thresholds (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  version         INTEGER NOT NULL CHECK (version >= 1),
  image_threshold REAL NOT NULL,
  pixel_threshold REAL,
  review_low      REAL,
  review_high     REAL,
  note            TEXT NOT NULL DEFAULT '',
  created_at      TEXT NOT NULL,
  UNIQUE (model_id, version),
  CHECK ((review_low IS NULL) = (review_high IS NULL)),
  CHECK (review_low IS NULL OR review_low <= review_high)
);

-- One result per image and model; re-inspection replaces it.
CREATE TABLE results (
  id              INTEGER PRIMARY KEY,
  image_id        INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  model_id        INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  threshold_id    INTEGER REFERENCES thresholds(id) ON DELETE SET NULL,
  job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  score           REAL NOT NULL,
  verdict         TEXT NOT NULL CHECK (verdict IN ('pass', 'review', 'fail', 'unjudged')),
  map_sha256      TEXT REFERENCES blobs(sha256),
  mask_sha256     TEXT REFERENCES blobs(sha256),
  defect_area_px  INTEGER CHECK (defect_area_px IS NULL OR defect_area_px >= 0),
  created_at      TEXT NOT NULL,
  UNIQUE (image_id, model_id)
);
CREATE INDEX results_by_model ON results (model_id);
CREATE INDEX results_by_job ON results (job_id);

CREATE TABLE reports (
  id              INTEGER PRIMARY KEY,
  product_id      INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  model_id        INTEGER REFERENCES models(id) ON DELETE SET NULL,
  threshold_id    INTEGER REFERENCES thresholds(id) ON DELETE SET NULL,
  job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('inspection', 'validation')),
  format          TEXT NOT NULL CHECK (format IN ('html', 'pdf', 'csv')),
  title           TEXT NOT NULL,
  blob_sha256     TEXT NOT NULL REFERENCES blobs(sha256),
  manifest_sha256 TEXT CHECK (manifest_sha256 IS NULL OR length(manifest_sha256) = 64),
  created_at      TEXT NOT NULL
);

-- F2PAD refinements of inspection results: the refined mask, the per-pixel anomaly magnitude and the
-- repaired (defect-free) image at the image's own size, beside the result's own (detector) mask.
-- One per result; re-inspecting an image replaces its result and drops the refinement of the old one.
CREATE TABLE refinements (
  id               INTEGER PRIMARY KEY,
  result_id        INTEGER NOT NULL UNIQUE REFERENCES results(id) ON DELETE CASCADE,
  job_id           INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  mask_sha256      TEXT NOT NULL REFERENCES blobs(sha256),
  magnitude_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  repaired_sha256  TEXT NOT NULL REFERENCES blobs(sha256),
  defect_area_px   INTEGER NOT NULL CHECK (defect_area_px >= 0),
  detector_threshold REAL NOT NULL,
  iterations       INTEGER NOT NULL CHECK (iterations >= 0),
  seconds          REAL NOT NULL CHECK (seconds >= 0),
  options_json     TEXT NOT NULL CHECK (json_valid(options_json)),
  created_at       TEXT NOT NULL
);
CREATE INDEX refinements_by_job ON refinements (job_id);

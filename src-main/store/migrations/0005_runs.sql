-- argus: rebuilds tables (run with foreign keys off, then checked; see migrate.ts)
-- Inspection runs: every inspection is a run (a name or lot number, its model and threshold version,
-- where its images came from, start and end) and its results belong to it. Evaluation results are kept
-- apart (run_id NULL): one per image and model, replaced by a re-evaluation. An image inspected in two
-- runs has a result in each.
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  threshold_id  INTEGER REFERENCES thresholds(id) ON DELETE SET NULL,
  job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  source        TEXT NOT NULL DEFAULT '',
  watch         INTEGER NOT NULL DEFAULT 0 CHECK (watch IN (0, 1)),
  started_at    TEXT NOT NULL,
  finished_at   TEXT
);
CREATE INDEX runs_by_product ON runs (product_id, id);
CREATE INDEX runs_by_job ON runs (job_id);

CREATE TABLE results_new (
  id              INTEGER PRIMARY KEY,
  image_id        INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  model_id        INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  threshold_id    INTEGER REFERENCES thresholds(id) ON DELETE SET NULL,
  job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  run_id          INTEGER REFERENCES runs(id) ON DELETE CASCADE,
  score           REAL NOT NULL,
  verdict         TEXT NOT NULL CHECK (verdict IN ('pass', 'review', 'fail', 'unjudged')),
  map_sha256      TEXT REFERENCES blobs(sha256),
  mask_sha256     TEXT REFERENCES blobs(sha256),
  defect_area_px  INTEGER CHECK (defect_area_px IS NULL OR defect_area_px >= 0),
  created_at      TEXT NOT NULL
);

-- Earlier inspections become runs: one per inspect job lineage root (a resumed job continues its run).
INSERT INTO runs (product_id, model_id, threshold_id, job_id, name, source, started_at, finished_at)
SELECT m.product_id, m.id, (SELECT r.threshold_id FROM results r WHERE r.job_id = j.id ORDER BY r.id LIMIT 1), j.id,
       'Inspection ' || j.id, coalesce(json_extract(j.params_json, '$.folder'), ''), coalesce(j.started_at, j.created_at), j.finished_at
FROM jobs j JOIN models m ON m.id = json_extract(j.params_json, '$.modelId')
WHERE j.kind = 'inspect' AND j.resumes_job_id IS NULL AND EXISTS (SELECT 1 FROM results r WHERE r.job_id = j.id OR r.job_id IN
  (SELECT c.id FROM jobs c WHERE c.resumes_job_id = j.id));

INSERT INTO results_new (id, image_id, model_id, threshold_id, job_id, run_id, score, verdict, map_sha256, mask_sha256, defect_area_px, created_at)
SELECT r.id, r.image_id, r.model_id, r.threshold_id, r.job_id,
       (SELECT u.id FROM runs u WHERE u.job_id = r.job_id OR u.job_id = (SELECT j.resumes_job_id FROM jobs j WHERE j.id = r.job_id)),
       r.score, r.verdict, r.map_sha256, r.mask_sha256, r.defect_area_px, r.created_at
FROM results r;

DROP TABLE results;
ALTER TABLE results_new RENAME TO results;
CREATE INDEX results_by_model ON results (model_id);
CREATE INDEX results_by_job ON results (job_id);
CREATE INDEX results_by_run ON results (run_id, id);
-- one evaluation result per image and model; one result per image in a run
CREATE UNIQUE INDEX results_one_evaluation ON results (image_id, model_id) WHERE run_id IS NULL;
CREATE UNIQUE INDEX results_one_per_run ON results (run_id, image_id) WHERE run_id IS NOT NULL;

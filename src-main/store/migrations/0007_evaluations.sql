-- The record of each evaluation of a model (written by every 'evaluate' job): the metrics with their
-- bootstrap intervals, the ROC / precision-recall / PRO curves behind them, and the frozen test set
-- (each evaluated image with its label, defect type and score at that time), so that the Evaluate
-- screen opens from disk and model versions are compared on the same images. Append-only: a
-- re-evaluation is a new row, the latest one per model counts.
CREATE TABLE evaluations (
  id            INTEGER PRIMARY KEY,
  model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  -- the model's threshold version when it was evaluated (none before the first one)
  threshold_id  INTEGER REFERENCES thresholds(id) ON DELETE SET NULL,
  job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  evaluated_at  TEXT NOT NULL,
  metrics_json  TEXT NOT NULL CHECK (json_valid(metrics_json)),
  curves_json   TEXT NOT NULL CHECK (json_valid(curves_json))
);
CREATE INDEX evaluations_by_model ON evaluations (model_id, id);
CREATE INDEX evaluations_by_product ON evaluations (product_id, id);

-- The frozen test set of an evaluation. The image id is kept even if the image is later removed or
-- relabelled: the record says what was evaluated, as it was labelled then.
CREATE TABLE evaluation_images (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  image_id      INTEGER NOT NULL,
  verdict       TEXT NOT NULL CHECK (verdict IN ('good', 'defective')),
  defect_type   TEXT,
  split         TEXT NOT NULL CHECK (split IN ('validation', 'test')),
  score         REAL NOT NULL,
  PRIMARY KEY (evaluation_id, image_id)
) WITHOUT ROWID;

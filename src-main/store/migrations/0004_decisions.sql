-- A reviewer's decisions on inspection results: the part passes or fails (with a defect type and a
-- note), who decided and when. Append-only: a changed mind is a new row, the latest one counts, and the
-- model's own verdict in `results` is never touched. Keyed by the image (the physical part), so a
-- re-inspection that replaces the result keeps the decision; `result_id` and `model_verdict` record
-- what the reviewer was looking at.
CREATE TABLE decisions (
  id            INTEGER PRIMARY KEY,
  image_id      INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  result_id     INTEGER REFERENCES results(id) ON DELETE SET NULL,
  model_verdict TEXT NOT NULL CHECK (model_verdict IN ('pass', 'review', 'fail', 'unjudged')),
  verdict       TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
  defect_type   TEXT,
  note          TEXT NOT NULL DEFAULT '',
  decided_by    TEXT NOT NULL,
  decided_at    TEXT NOT NULL
);
CREATE INDEX decisions_by_image ON decisions (image_id, id);

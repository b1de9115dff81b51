-- Big projects (100,000 images and more): the dataset grid's filters, its facet counts, the result
-- lists and the run list answer from indexes instead of scanning tables.

-- A product's images in import (id) order: the unfiltered grid and its deep pages.
CREATE INDEX images_by_product ON images (product_id);
-- Label and defect-type filters and counts, each still in id order (an index entry ends with the rowid).
CREATE INDEX images_by_product_verdict ON images (product_id, verdict, defect_type);
CREATE INDEX images_by_product_defect ON images (product_id, defect_type);
-- An image's latest result under a model (score filter, score on each tile) is one seek.
CREATE INDEX results_by_model_image ON results (model_id, image_id);
-- Result lists worst first, a run's or a model's, without sorting every result for each page (the image
-- id in them answers the review queues and the grid's score range from the index alone).
CREATE INDEX results_by_run_score ON results (run_id, model_id, score DESC, id, image_id);
CREATE INDEX results_by_model_score ON results (model_id, score DESC, id, image_id);

-- Each inspection run's counts, kept by triggers in the same transaction as its results, so the run
-- list (polled every 2 s by the Inspect screen) reads one row per run instead of counting every
-- result of every run; exact after a kill, as the results are.
CREATE TABLE run_counts (
  run_id         INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  inspected      INTEGER NOT NULL DEFAULT 0,
  pass           INTEGER NOT NULL DEFAULT 0,
  review         INTEGER NOT NULL DEFAULT 0,
  fail           INTEGER NOT NULL DEFAULT 0,
  unjudged       INTEGER NOT NULL DEFAULT 0,
  last_result_at TEXT
);
INSERT INTO run_counts (run_id, inspected, pass, review, fail, unjudged, last_result_at)
SELECT run_id, count(*), sum(verdict = 'pass'), sum(verdict = 'review'), sum(verdict = 'fail'), sum(verdict = 'unjudged'), max(created_at)
FROM results WHERE run_id IS NOT NULL GROUP BY run_id;

CREATE TRIGGER run_counts_insert AFTER INSERT ON results WHEN NEW.run_id IS NOT NULL BEGIN
  INSERT INTO run_counts (run_id) VALUES (NEW.run_id) ON CONFLICT (run_id) DO NOTHING;
  UPDATE run_counts SET inspected = inspected + 1, pass = pass + (NEW.verdict = 'pass'), review = review + (NEW.verdict = 'review'),
    fail = fail + (NEW.verdict = 'fail'), unjudged = unjudged + (NEW.verdict = 'unjudged'),
    last_result_at = CASE WHEN last_result_at IS NULL OR NEW.created_at > last_result_at THEN NEW.created_at ELSE last_result_at END
  WHERE run_id = NEW.run_id;
END;

CREATE TRIGGER run_counts_delete AFTER DELETE ON results WHEN OLD.run_id IS NOT NULL BEGIN
  UPDATE run_counts SET inspected = inspected - 1, pass = pass - (OLD.verdict = 'pass'), review = review - (OLD.verdict = 'review'),
    fail = fail - (OLD.verdict = 'fail'), unjudged = unjudged - (OLD.verdict = 'unjudged'),
    last_result_at = (SELECT max(created_at) FROM results WHERE run_id = OLD.run_id)
  WHERE run_id = OLD.run_id;
END;

-- a replaced result (a resumed run inspecting an image again) moves between the counts
CREATE TRIGGER run_counts_update AFTER UPDATE OF run_id, verdict, created_at ON results BEGIN
  UPDATE run_counts SET inspected = inspected - 1, pass = pass - (OLD.verdict = 'pass'), review = review - (OLD.verdict = 'review'),
    fail = fail - (OLD.verdict = 'fail'), unjudged = unjudged - (OLD.verdict = 'unjudged')
  WHERE OLD.run_id IS NOT NULL AND run_id = OLD.run_id;
  INSERT INTO run_counts (run_id) SELECT NEW.run_id WHERE NEW.run_id IS NOT NULL ON CONFLICT (run_id) DO NOTHING;
  UPDATE run_counts SET inspected = inspected + 1, pass = pass + (NEW.verdict = 'pass'), review = review + (NEW.verdict = 'review'),
    fail = fail + (NEW.verdict = 'fail'), unjudged = unjudged + (NEW.verdict = 'unjudged'),
    last_result_at = (SELECT max(created_at) FROM results WHERE run_id = NEW.run_id)
  WHERE NEW.run_id IS NOT NULL AND run_id = NEW.run_id;
  UPDATE run_counts SET last_result_at = (SELECT max(created_at) FROM results WHERE run_id = OLD.run_id)
  WHERE OLD.run_id IS NOT NULL AND OLD.run_id IS NOT NEW.run_id AND run_id = OLD.run_id;
END;

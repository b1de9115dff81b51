-- Big projects (100,000 images and more): the dataset grid's filters, its facet counts, the result
-- lists and the run list answer from indexes instead of scanning tables.

-- A product's images in import (id) order: the unfiltered grid and its deep pages.
CREATE INDEX images_by_product ON images (product_id);
-- Label and defect-type filters and counts, each still in id order (an index entry ends with the rowid).
CREATE INDEX images_by_product_verdict ON images (product_id, verdict, defect_type);
CREATE INDEX images_by_product_defect ON images (product_id, defect_type);
-- An image's latest result under a model (score filter, score on each tile) is one seek.
CREATE INDEX results_by_model_image ON results (model_id, image_id);
-- A run's counts (polled by the Inspect screen) are read from the index alone, not from every result row.
CREATE INDEX results_by_run_verdict ON results (run_id, verdict, created_at);
-- Result lists worst first, a run's or a model's, without sorting every result for each page.
CREATE INDEX results_by_run_score ON results (run_id, score DESC, id);
CREATE INDEX results_by_model_score ON results (model_id, score DESC, id);

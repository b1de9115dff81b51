-- What a finished job produced, for the screens and the CLI: an import's summary (counts and
-- per-file problems), the model a training made, an inspection's counts. JSON, or NULL.
ALTER TABLE jobs ADD COLUMN result_json TEXT CHECK (result_json IS NULL OR json_valid(result_json));
-- How to resume an interrupted job: the job it continues.
ALTER TABLE jobs ADD COLUMN resumes_job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL;

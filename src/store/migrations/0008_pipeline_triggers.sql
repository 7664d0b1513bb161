-- 0008: pipeline triggers run by cairn server's scheduler. A trigger names
-- a directory holding cairn.yaml, an optional stage and parameter
-- overrides (JSON array of "key=value"), and fires on a cron schedule, when
-- the content of a watched path changes (content_hash: the hash at its last
-- run), or by hand (REST, CLI, an alert's retrain.pipeline). Each firing is
-- a pipeline run: `cairn pipeline run` in the directory, its output in
-- log_path. Times are ms since the epoch.

CREATE TABLE pipeline_triggers (
    name TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    stage TEXT,
    schedule TEXT,
    watch TEXT,
    params TEXT NOT NULL,
    content_hash TEXT,
    created BIGINT NOT NULL
);

CREATE TABLE pipeline_runs (
    id TEXT PRIMARY KEY,
    trigger_name TEXT,
    directory TEXT NOT NULL,
    stage TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    started BIGINT NOT NULL,
    finished BIGINT,
    exit_code INTEGER,
    log_path TEXT NOT NULL
);
CREATE INDEX pipeline_runs_by_trigger ON pipeline_runs (trigger_name, started);

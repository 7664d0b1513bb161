-- 0001: experiments, runs, params, tags, metrics, datasets (MLflow tracking model).
-- Written in the SQL subset SQLite and PostgreSQL share; /*!sqlite ...*/ and
-- /*!pg ...*/ hold text for one dialect only (integer keys are rowid aliases
-- on SQLite, tables keyed otherwise are WITHOUT ROWID there). Integer ids are
-- assigned by the single store writer (MAX(id)+1), so no SERIAL/AUTOINCREMENT.

CREATE TABLE experiments (
    experiment_id /*!sqlite INTEGER*//*!pg BIGINT*/ PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) /*!sqlite WITHOUT ROWID*/;

-- run_id is the internal integer key every child table uses; run_uuid is
-- MLflow's 32-hex id.
CREATE TABLE runs (
    run_id /*!sqlite INTEGER*//*!pg BIGINT*/ PRIMARY KEY,
    run_uuid TEXT NOT NULL UNIQUE,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'RUNNING',
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    deleted_time BIGINT
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time, run_id);

CREATE TABLE params (
    run_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX params_by_key ON params (key, value);

CREATE TABLE tags (
    run_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX tags_by_key ON tags (key, value);

-- Every logged point. A re-sent point (same run, key, step, timestamp, value)
-- is a no-op through ON CONFLICT DO NOTHING. NaN is stored as is_nan=1,
-- value 0 (SQLite turns NaN into NULL).
CREATE TABLE metrics (
    run_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
) /*!sqlite WITHOUT ROWID*/;

-- The newest point per (run, key): max step, then max timestamp, then max
-- value, as MLflow defines the latest metric. Searches filter and sort on it.
CREATE TABLE latest_metrics (
    run_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    is_nan INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);

CREATE TABLE datasets (
    dataset_id /*!sqlite INTEGER*//*!pg BIGINT*/ PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source TEXT NOT NULL,
    schema TEXT,
    profile TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_inputs (
    run_id BIGINT NOT NULL,
    dataset_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, dataset_id)
) /*!sqlite WITHOUT ROWID*/;

CREATE TABLE input_tags (
    run_id BIGINT NOT NULL,
    dataset_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset_id, key)
) /*!sqlite WITHOUT ROWID*/;

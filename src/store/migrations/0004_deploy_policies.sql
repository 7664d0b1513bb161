-- 0004: traffic policies of serving deployments. A deployment may name one
-- shadow target (a model with a version or an alias; both NULL: none) that
-- receives a copy of its traffic off the response path. The rollback point
-- is the targets a deployment had before its last change (restored by a
-- rollback). A gradual shift moves weight to a new target step by step;
-- its state is kept so that a restart resumes it. Times are ms since the
-- epoch; every_ms is the interval between steps.

ALTER TABLE deployments ADD COLUMN shadow_model TEXT;
ALTER TABLE deployments ADD COLUMN shadow_ref TEXT;

CREATE TABLE deployment_rollback_targets (
    deployment TEXT NOT NULL,
    position INTEGER NOT NULL,
    model TEXT NOT NULL,
    ref TEXT NOT NULL,
    weight INTEGER NOT NULL,
    PRIMARY KEY (deployment, position)
) /*!sqlite WITHOUT ROWID*/;

CREATE TABLE deployment_shifts (
    deployment TEXT PRIMARY KEY,
    to_model TEXT NOT NULL,
    to_ref TEXT NOT NULL,
    step INTEGER NOT NULL,
    every_ms BIGINT NOT NULL,
    max_error_rate_increase DOUBLE PRECISION NOT NULL,
    max_p99_ratio DOUBLE PRECISION NOT NULL,
    min_requests BIGINT NOT NULL,
    weight INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    started BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    updated BIGINT NOT NULL
) /*!sqlite WITHOUT ROWID*/;

-- 0003: serving deployments. A deployment maps an endpoint name to one or
-- more registered model versions with traffic weights (percent, summing to
-- 100). ref is a version number (digits) or an alias name, resolved per
-- request by the model manager.

CREATE TABLE deployments (
    name TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
) /*!sqlite WITHOUT ROWID*/;

CREATE TABLE deployment_targets (
    deployment TEXT NOT NULL,
    position INTEGER NOT NULL,
    model TEXT NOT NULL,
    ref TEXT NOT NULL,
    weight INTEGER NOT NULL,
    PRIMARY KEY (deployment, position)
) /*!sqlite WITHOUT ROWID*/;

-- 0006: model quality with delayed labels. monitor_feedback keeps every
-- label joined to its prediction (the prediction's outputs as a JSON array
-- of numbers, the label as a class index or a regression target, and the
-- sequence number of the window it went into);
-- monitor_quality keeps one row per metric of each closed quality window of
-- a (deployment, model, version) series ('' deployment: the requests named
-- the model itself). Times are ms since the epoch.

CREATE TABLE monitor_feedback (
    request_id TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    deployment TEXT NOT NULL DEFAULT '',
    predicted_at BIGINT NOT NULL,
    labeled_at BIGINT NOT NULL,
    outputs TEXT NOT NULL,
    label DOUBLE PRECISION NOT NULL,
    window_seq BIGINT NOT NULL,
    PRIMARY KEY (request_id, model, version)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX monitor_feedback_by_window ON monitor_feedback (deployment, model, version, window_seq);

CREATE TABLE monitor_quality (
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    rows_count BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    training DOUBLE PRECISION,
    PRIMARY KEY (deployment, model, version, seq, metric)
) /*!sqlite WITHOUT ROWID*/;

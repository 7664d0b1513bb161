-- 0007: inline drift. monitor_windows keeps one row per closed monitoring
-- window of a (deployment, model, version) series ('' deployment: the
-- requests named the model itself): its rows, how many features drifted,
-- and the window's request error rate, p99 latency and shadow agreement
-- (NULL when not known). monitor_drift keeps the per-feature results of
-- each window (inputs by feature name, outputs as prediction[_k]) and, for
-- plots, the reference's and the window's counts per bin (JSON: numeric
-- {"edges", "reference", "current"} on the profile's quantile bins;
-- categorical {"categories", "reference", "current"}).
-- Times are ms since the epoch.

CREATE TABLE monitor_windows (
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    rows_count BIGINT NOT NULL,
    features INTEGER NOT NULL,
    drifted INTEGER NOT NULL,
    requests BIGINT,
    error_rate DOUBLE PRECISION,
    p99_ms DOUBLE PRECISION,
    shadow_rows BIGINT,
    shadow_agreement DOUBLE PRECISION,
    shadow_mean_abs_diff DOUBLE PRECISION,
    PRIMARY KEY (deployment, model, version, window_end)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX monitor_windows_by_end ON monitor_windows (window_end);

CREATE TABLE monitor_drift (
    deployment TEXT NOT NULL,
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    feature TEXT NOT NULL,
    statistic TEXT NOT NULL,
    value DOUBLE PRECISION,
    score DOUBLE PRECISION,
    threshold DOUBLE PRECISION NOT NULL,
    drift INTEGER NOT NULL,
    count BIGINT NOT NULL,
    missing_rate DOUBLE PRECISION NOT NULL,
    out_of_range_rate DOUBLE PRECISION NOT NULL,
    new_category_rate DOUBLE PRECISION NOT NULL,
    approximate INTEGER NOT NULL,
    bins TEXT,
    PRIMARY KEY (deployment, model, version, window_end, feature)
) /*!sqlite WITHOUT ROWID*/;
CREATE INDEX monitor_drift_by_feature ON monitor_drift (deployment, feature, window_end);

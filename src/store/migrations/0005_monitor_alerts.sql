-- 0005: monitoring alerts. One row per alert instance: a rule of the
-- monitoring policy that fired for a deployment (and, for per-feature or
-- per-metric rules, one subject); state is 'firing' until the condition
-- clears ('resolved'). value is the last signal value seen (NULL when not
-- finite). Webhook deliveries are recorded at their final outcome
-- ('delivered', or 'dead' after the last retry: the dead letters).
-- Retraining runs triggered by alerts are recorded with the tracking run
-- they created ('skipped' rows record debounce and the daily cap).
-- Times are ms since the epoch.

CREATE TABLE monitor_alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    deployment TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    started BIGINT NOT NULL,
    resolved BIGINT,
    updated BIGINT NOT NULL,
    value DOUBLE PRECISION,
    threshold DOUBLE PRECISION NOT NULL,
    above INTEGER NOT NULL,
    windows INTEGER NOT NULL,
    reason TEXT NOT NULL
);

CREATE INDEX monitor_alerts_by_deployment ON monitor_alerts (deployment, state, started);

CREATE TABLE monitor_alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    event TEXT NOT NULL,
    webhook TEXT,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status INTEGER NOT NULL,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

CREATE INDEX monitor_alert_deliveries_by_state ON monitor_alert_deliveries (state, created);

CREATE TABLE monitor_alert_runs (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    deployment TEXT NOT NULL,
    run_id TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    started BIGINT NOT NULL,
    finished BIGINT
);

CREATE INDEX monitor_alert_runs_by_rule ON monitor_alert_runs (rule, deployment, started);

-- The model registry: data sets, training runs and their metrics, registered
-- models, their versions with lineage, aliases and the audit trail of every
-- alias move. Timestamps are timestamptz; JSON documents are jsonb objects.

CREATE TABLE datasets (
    digest           text PRIMARY KEY,
    source_keys      text[] NOT NULL DEFAULT '{}',
    train_key        text NOT NULL DEFAULT '',
    holdout_key      text NOT NULL DEFAULT '',
    rejects_key      text NOT NULL DEFAULT '',
    row_count        integer NOT NULL CHECK (row_count >= 0),
    class_count      integer NOT NULL CHECK (class_count >= 0),
    rejected_count   integer NOT NULL DEFAULT 0 CHECK (rejected_count >= 0),
    reject_reasons   jsonb NOT NULL DEFAULT '{}',
    holdout_fraction double precision NOT NULL DEFAULT 0,
    holdout_salt     text NOT NULL DEFAULT '',
    train_rows       integer NOT NULL DEFAULT 0 CHECK (train_rows >= 0),
    holdout_rows     integer NOT NULL DEFAULT 0 CHECK (holdout_rows >= 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per workflow execution: a retried activity finds its run by the
-- (workflow_id, workflow_run_id) key instead of starting another.
CREATE TABLE runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name      text NOT NULL,
    workflow_id     text NOT NULL,
    workflow_run_id text NOT NULL,
    dataset_digest  text REFERENCES datasets (digest),
    params          jsonb NOT NULL DEFAULT '{}',
    code_version    text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed')),
    error           text NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (workflow_id, workflow_run_id)
);
CREATE INDEX runs_model_started ON runs (model_name, started_at DESC, id DESC);

CREATE TABLE metrics (
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name        text NOT NULL,
    value       double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, name)
);

-- The row CreateVersion locks FOR UPDATE to number versions, and SetAlias
-- locks to serialise alias moves of one model.
CREATE TABLE registered_models (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
    model_name      text NOT NULL REFERENCES registered_models (name),
    version         integer NOT NULL CHECK (version > 0),
    run_id          bigint REFERENCES runs (id),
    workflow_id     text NOT NULL,
    workflow_run_id text NOT NULL,
    dataset_digest  text NOT NULL REFERENCES datasets (digest),
    params          jsonb NOT NULL DEFAULT '{}',
    code_version    text NOT NULL DEFAULT '',
    artifact_key    text NOT NULL,
    artifact_digest text NOT NULL,
    report_key      text NOT NULL DEFAULT '',
    metrics         jsonb NOT NULL DEFAULT '{}',
    signature       jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, version),
    -- The idempotency key of the register step.
    UNIQUE (model_name, workflow_id, workflow_run_id)
);

CREATE TABLE aliases (
    model_name text NOT NULL,
    alias      text NOT NULL,
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_name, alias),
    FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

CREATE TABLE alias_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name   text NOT NULL REFERENCES registered_models (name),
    alias        text NOT NULL,
    from_version integer,
    to_version   integer NOT NULL,
    reason       text NOT NULL DEFAULT '',
    actor        text NOT NULL DEFAULT '',
    moved_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model_name, to_version) REFERENCES model_versions (model_name, version)
);
CREATE INDEX alias_history_model_alias ON alias_history (model_name, alias, id DESC);

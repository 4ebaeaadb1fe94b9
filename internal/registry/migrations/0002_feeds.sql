-- Data feeds: a named, versioned pointer to the input objects of a
-- training. Publishing new data adds a version; a training or schedule that
-- names the feed reads its latest version when it ingests. The feeds row is
-- what PublishFeed locks to number versions.

CREATE TABLE feeds (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feed_versions (
    feed_name  text NOT NULL REFERENCES feeds (name),
    version    integer NOT NULL CHECK (version > 0),
    source     jsonb NOT NULL,
    actor      text NOT NULL DEFAULT '',
    note       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed_name, version)
);

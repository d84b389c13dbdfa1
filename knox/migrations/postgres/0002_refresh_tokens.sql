-- Refresh token families: one per login, with an absolute expiry. `generation`
-- numbers the newest refresh token; `last_issued` drives the issue throttle.
CREATE TABLE IF NOT EXISTS knox_refresh_family (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    expiry TIMESTAMPTZ NOT NULL,
    generation BIGINT NOT NULL,
    last_issued TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS knox_refresh_family_user_id ON knox_refresh_family (user_id);
CREATE INDEX IF NOT EXISTS knox_refresh_family_expiry ON knox_refresh_family (expiry);

-- Every refresh token a family ever issued. A superseded token keeps its
-- digest and `consumed` time for the family's lifetime, so a replay is
-- recognised; tokens beyond the history limit lose their other details.
CREATE TABLE IF NOT EXISTS knox_refresh_token (
    digest VARCHAR(128) NOT NULL PRIMARY KEY,
    family_id VARCHAR(32) NOT NULL REFERENCES knox_refresh_family (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    token_key VARCHAR(25) NULL,
    access_digest VARCHAR(128) NULL,
    created TIMESTAMPTZ NULL,
    expiry TIMESTAMPTZ NOT NULL,
    consumed TIMESTAMPTZ NULL
);
CREATE INDEX IF NOT EXISTS knox_refresh_token_family ON knox_refresh_token (family_id, generation);
CREATE INDEX IF NOT EXISTS knox_refresh_token_access ON knox_refresh_token (access_digest);

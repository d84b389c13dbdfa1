-- Refresh token families: one per login, with an absolute expiry. `generation`
-- numbers the newest refresh token; `last_issued` drives the issue throttle.
CREATE TABLE IF NOT EXISTS knox_refresh_family (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created DATETIME NOT NULL,
    expiry DATETIME NOT NULL,
    generation INTEGER NOT NULL,
    last_issued DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS knox_refresh_family_user_id ON knox_refresh_family (user_id);
CREATE INDEX IF NOT EXISTS knox_refresh_family_expiry ON knox_refresh_family (expiry);

-- Every refresh token a family ever issued. A superseded token keeps its
-- digest and `consumed` time for the family's lifetime, so a replay is
-- recognised; tokens beyond the history limit lose their other details.
CREATE TABLE IF NOT EXISTS knox_refresh_token (
    digest VARCHAR(128) NOT NULL PRIMARY KEY,
    family_id VARCHAR(32) NOT NULL REFERENCES knox_refresh_family (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    token_key VARCHAR(25) NULL,
    access_digest VARCHAR(128) NULL,
    created DATETIME NULL,
    expiry DATETIME NOT NULL,
    consumed DATETIME NULL
);
CREATE INDEX IF NOT EXISTS knox_refresh_token_family ON knox_refresh_token (family_id, generation);
CREATE INDEX IF NOT EXISTS knox_refresh_token_access ON knox_refresh_token (access_digest);

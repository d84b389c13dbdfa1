-- The token table of django-rest-knox 5.x. `user_id` is text so integer and
-- UUID user ids both fit; times are timestamptz.
CREATE TABLE IF NOT EXISTS knox_authtoken (
    digest VARCHAR(128) NOT NULL PRIMARY KEY,
    token_key VARCHAR(25) NOT NULL,
    user_id TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    expiry TIMESTAMPTZ NULL
);
CREATE INDEX IF NOT EXISTS knox_authtoken_token_key ON knox_authtoken (token_key);
CREATE INDEX IF NOT EXISTS knox_authtoken_user_id ON knox_authtoken (user_id);

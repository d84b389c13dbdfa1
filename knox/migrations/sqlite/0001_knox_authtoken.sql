-- The token table of django-rest-knox 5.x, with the same columns and types.
CREATE TABLE IF NOT EXISTS knox_authtoken (
    digest VARCHAR(128) NOT NULL PRIMARY KEY,
    token_key VARCHAR(25) NOT NULL,
    user_id INTEGER NOT NULL,
    created DATETIME NOT NULL,
    expiry DATETIME NULL
);
CREATE INDEX IF NOT EXISTS knox_authtoken_token_key ON knox_authtoken (token_key);
CREATE INDEX IF NOT EXISTS knox_authtoken_user_id ON knox_authtoken (user_id);

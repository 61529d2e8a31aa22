-- Radio stations: a slug for URLs, the SHA-256 of the source key (never the key), what is
-- playing as last said. The list reads public stations and the caller's own, newest first
-- (`radio_stations_public`, `radio_stations_owner`). A playlist is its station's files in order.
CREATE TABLE radio_stations (
    id                 BIGSERIAL PRIMARY KEY,
    slug               TEXT      NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,64}$'),
    name               TEXT      NOT NULL,
    description        TEXT,
    owner_id           BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_public          BOOLEAN   NOT NULL,
    format             TEXT      NOT NULL CHECK (format IN ('mp3', 'ogg')),
    key_digest         TEXT      NOT NULL,
    now_playing_title  TEXT,
    now_playing_artist TEXT,
    now_playing_since  TIMESTAMP,
    created_at         TIMESTAMP NOT NULL
);
CREATE INDEX radio_stations_public ON radio_stations (created_at DESC, id DESC) WHERE is_public;
CREATE INDEX radio_stations_owner ON radio_stations (owner_id, created_at DESC, id DESC);

CREATE TABLE radio_playlist (
    station_id BIGINT  NOT NULL REFERENCES radio_stations (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    file_id    BIGINT  NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    PRIMARY KEY (station_id, position)
);
CREATE INDEX radio_playlist_file ON radio_playlist (file_id);

-- Review of camera events in the web UI (issue #12): confirm, re-assign or
-- dismiss a recognition, label unknown faces grouped by similarity, and
-- "this is not X".
--
-- embedding: the track's face (little-endian f32, unit length) under
-- model_id, kept with the crop and on the same condition (the
-- organisation's store_images), so unknown faces can be grouped and a
-- labelled group enrolled without the video. Dropped when the event is
-- dismissed or its face was enrolled (it then lives on as a template).
-- review: NULL (not reviewed), confirmed, reassigned, dismissed or
-- rejected ("not this person"); reviewed_at when.
ALTER TABLE camera_events ADD COLUMN embedding BYTEA;
ALTER TABLE camera_events ADD COLUMN model_id TEXT;
ALTER TABLE camera_events ADD COLUMN review TEXT;
ALTER TABLE camera_events ADD COLUMN reviewed_at BIGINT;
CREATE INDEX camera_events_org_review ON camera_events(org_id, review, kind, occurred_at);

-- Negative samples: faces an operator said are NOT this person. Identification
-- does not name the person for a probe closer to one of these than to the
-- person's own templates. Gone with the person or the organisation.
CREATE TABLE person_negatives (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    dim BIGINT NOT NULL,
    embedding BYTEA NOT NULL,
    -- test (the recognition test page) or camera (a camera event).
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX person_negatives_lookup ON person_negatives(org_id, model_id, person_id);

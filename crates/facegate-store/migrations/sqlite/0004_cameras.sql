-- Cameras (issue #11): live sources the service watches, and the events
-- their recognition produced.
--
-- source_url keeps any credentials the camera needs (rtsp://user:pass@...):
-- the API never returns them, only the URL with the password redacted and
-- has_credentials. device_id links a camera to the door or kiosk whose
-- access decisions or attendance marks it makes; deleting the device unlinks
-- the camera (it keeps running as a camera without a device).
-- purpose: attendance | access | watch. fpir and match_threshold override
-- the organisation's operating point for this camera when set.
CREATE TABLE cameras (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    source_url TEXT NOT NULL,
    rtsp_transport TEXT NOT NULL,
    device_id TEXT REFERENCES devices(id) ON DELETE SET NULL,
    purpose TEXT NOT NULL,
    detection_fps DOUBLE PRECISION NOT NULL,
    min_face_px BIGINT NOT NULL,
    min_sharpness DOUBLE PRECISION NOT NULL,
    fpir DOUBLE PRECISION,
    match_threshold DOUBLE PRECISION,
    cooldown_s BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX cameras_org_name ON cameras(org_id, name);

-- One row per recognition event (a track named or reported unknown).
-- payload is the event as the API shows it (JSON: SSE, GET /events,
-- MQTT/webhooks), the other columns are what the log is filtered by.
-- camera_id and person_id are set to NULL when the camera or person is
-- deleted: the event stays in the log. outcome is the attendance or access
-- decision the event led to (JSON), crop the face as JPEG, kept only when
-- the organisation's store_images setting is on.
CREATE TABLE camera_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    camera_id TEXT REFERENCES cameras(id) ON DELETE SET NULL,
    track_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT NOT NULL,
    person_id TEXT REFERENCES people(id) ON DELETE SET NULL,
    score DOUBLE PRECISION,
    operating_point TEXT NOT NULL,
    liveness DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION NOT NULL,
    outcome TEXT,
    payload TEXT NOT NULL,
    crop BLOB,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX camera_events_org_time ON camera_events(org_id, occurred_at);
CREATE INDEX camera_events_org_camera_time ON camera_events(org_id, camera_id, occurred_at);

//! Multi-face tracking across frames: pure, deterministic, no I/O.
//!
//! A track is one face followed from frame to frame. Each frame's detections
//! are matched to the live tracks by the overlap (IoU) of the detection with
//! the track's box moved by its estimated velocity (constant-velocity motion
//! model, as SORT does without the Kalman filter), greedily, best pair first.
//! A detection that overlaps no track closely enough but whose centre lies
//! within a face size of a track's predicted centre still continues it: at a
//! detection rate of 5 fps a walking face can move more than its own width
//! between frames, and IoU alone would split it into many tracks. Track ids
//! are never reused within one [`Tracker`].

use facegate_core::{BoundingBox, DetectedFace};

/// How detections join tracks. The defaults suit faces sampled at 2–15 fps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Minimum IoU between a detection and a track's predicted box to join it.
    pub min_iou: f32,
    /// A detection whose centre is within this many box sizes of the
    /// track's predicted centre joins it even without overlap (boxes of
    /// similar size only).
    pub max_centre_shift: f32,
    /// A track not seen for this long (ms of stream time) has ended.
    pub max_age_ms: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            min_iou: 0.3,
            max_centre_shift: 1.0,
            max_age_ms: 1_500,
        }
    }
}

/// One face followed across frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Unique within the tracker, from 1, never reused.
    pub id: u64,
    /// The latest detection's box, in frame pixels.
    pub bbox: BoundingBox,
    /// The latest detection (box, score, landmarks).
    pub face: DetectedFace,
    /// Velocity of the box centre, pixels per ms.
    pub velocity: (f32, f32),
    /// Stream time of the first and latest detection, ms.
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Frames in which the track was detected.
    pub hits: u32,
}

impl Track {
    fn predicted(&self, at_ms: u64) -> BoundingBox {
        let dt = at_ms.saturating_sub(self.last_seen_ms) as f32;
        let (dx, dy) = (self.velocity.0 * dt, self.velocity.1 * dt);
        BoundingBox {
            left: self.bbox.left + dx,
            top: self.bbox.top + dy,
            right: self.bbox.right + dx,
            bottom: self.bbox.bottom + dy,
        }
    }
}

/// What one frame did to the tracks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackUpdate {
    /// For each detection of the frame, in order, the id of its track.
    pub assigned: Vec<u64>,
    /// Ids of tracks started by this frame.
    pub started: Vec<u64>,
    /// Tracks that ended (not seen for `max_age_ms`), removed from the tracker.
    pub ended: Vec<Track>,
}

/// The set of live tracks of one stream.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// The live tracks, oldest first.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn get(&self, id: u64) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    /// Match one frame's detections (taken at stream time `at_ms`, which
    /// never goes back) to the tracks, start tracks for the rest, end the
    /// stale ones.
    pub fn update(&mut self, at_ms: u64, detections: &[DetectedFace]) -> TrackUpdate {
        let mut update = TrackUpdate {
            assigned: vec![0; detections.len()],
            ..TrackUpdate::default()
        };
        // Every (track, detection) pair that may join, scored: IoU, or for a
        // centre-distance match a score below any IoU match.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            let predicted = track.predicted(at_ms);
            for (di, det) in detections.iter().enumerate() {
                let iou = iou(&predicted, &det.bbox);
                if iou >= self.config.min_iou {
                    pairs.push((1.0 + iou, ti, di));
                } else {
                    let shift = centre_shift(&predicted, &det.bbox);
                    if shift <= self.config.max_centre_shift {
                        pairs.push((1.0 - shift, ti, di));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut track_taken = vec![false; self.tracks.len()];
        let mut det_taken = vec![false; detections.len()];
        for (_, ti, di) in pairs {
            if track_taken[ti] || det_taken[di] {
                continue;
            }
            track_taken[ti] = true;
            det_taken[di] = true;
            let track = &mut self.tracks[ti];
            let det = &detections[di];
            let dt = at_ms.saturating_sub(track.last_seen_ms) as f32;
            if dt > 0.0 {
                let (ox, oy) = centre(&track.bbox);
                let (nx, ny) = centre(&det.bbox);
                let measured = ((nx - ox) / dt, (ny - oy) / dt);
                // Smooth: detector jitter would otherwise swing the prediction.
                track.velocity = if track.hits == 1 {
                    measured
                } else {
                    (
                        0.5 * track.velocity.0 + 0.5 * measured.0,
                        0.5 * track.velocity.1 + 0.5 * measured.1,
                    )
                };
            }
            track.bbox = det.bbox;
            track.face = *det;
            track.last_seen_ms = at_ms;
            track.hits += 1;
            update.assigned[di] = track.id;
        }
        for (di, det) in detections.iter().enumerate() {
            if det_taken[di] {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.tracks.push(Track {
                id,
                bbox: det.bbox,
                face: *det,
                velocity: (0.0, 0.0),
                first_seen_ms: at_ms,
                last_seen_ms: at_ms,
                hits: 1,
            });
            update.assigned[di] = id;
            update.started.push(id);
        }
        let max_age = self.config.max_age_ms;
        let (live, ended): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| at_ms.saturating_sub(t.last_seen_ms) <= max_age);
        self.tracks = live;
        update.ended = ended;
        update
    }

    /// End track `id` and start a new one on its latest detection: the
    /// caller found that the face it follows now is someone else (an
    /// identity switch: two people crossing, a cut in edited video).
    /// Returns the ended track and the new id; `None` if `id` is not live.
    pub fn restart(&mut self, id: u64, at_ms: u64) -> Option<(Track, u64)> {
        let index = self.tracks.iter().position(|t| t.id == id)?;
        let ended = self.tracks.remove(index);
        let new_id = self.next_id;
        self.next_id += 1;
        self.tracks.push(Track {
            id: new_id,
            bbox: ended.bbox,
            face: ended.face,
            velocity: (0.0, 0.0),
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            hits: 1,
        });
        Some((ended, new_id))
    }

    /// End every track (the stream stopped).
    pub fn finish(&mut self) -> Vec<Track> {
        std::mem::take(&mut self.tracks)
    }
}

fn centre(b: &BoundingBox) -> (f32, f32) {
    ((b.left + b.right) / 2.0, (b.top + b.bottom) / 2.0)
}

/// Intersection over union of two boxes, in `[0, 1]`.
pub fn iou(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let w = (a.right.min(b.right) - a.left.max(b.left)).max(0.0);
    let h = (a.bottom.min(b.bottom) - a.top.max(b.top)).max(0.0);
    let inter = w * h;
    let union = a.area() + b.area() - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Distance between the centres in units of the larger box's mean side.
fn centre_shift(predicted: &BoundingBox, det: &BoundingBox) -> f32 {
    let (px, py) = centre(predicted);
    let (dx, dy) = centre(det);
    let size = |b: &BoundingBox| ((b.right - b.left) + (b.bottom - b.top)) / 2.0;
    let scale = size(predicted).max(size(det));
    if scale <= 0.0 {
        return f32::INFINITY;
    }
    // Very different sizes are different faces, whatever the distance.
    let ratio = size(predicted).min(size(det)) / scale;
    if ratio < 0.5 {
        return f32::INFINITY;
    }
    ((px - dx).powi(2) + (py - dy).powi(2)).sqrt() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::{Landmarks5, Point};

    fn face(left: f32, top: f32, size: f32) -> DetectedFace {
        DetectedFace {
            bbox: BoundingBox {
                left,
                top,
                right: left + size,
                bottom: top + size,
            },
            score: 0.9,
            landmarks: Landmarks5([Point { x: 0.0, y: 0.0 }; 5]),
        }
    }

    /// Each row: frames as (time ms, detections as (left, top, size)), and
    /// the track ids expected for each frame's detections, in order.
    #[test]
    fn table() {
        type Frame = (u64, Vec<(f32, f32, f32)>);
        // (what, frames, the track id of each face, frame by frame)
        type Case = (&'static str, Vec<Frame>, Vec<Vec<u64>>);
        let cases: Vec<Case> = vec![
            (
                "a still face keeps its id",
                vec![
                    (0, vec![(100.0, 100.0, 80.0)]),
                    (200, vec![(102.0, 101.0, 80.0)]),
                ],
                vec![vec![1], vec![1]],
            ),
            (
                "two faces keep their own ids when listed in the other order",
                vec![
                    (0, vec![(100.0, 100.0, 80.0), (400.0, 100.0, 80.0)]),
                    (200, vec![(405.0, 100.0, 80.0), (98.0, 100.0, 80.0)]),
                ],
                vec![vec![1, 2], vec![2, 1]],
            ),
            (
                "a fast walker (more than a face width per frame) stays one track",
                vec![
                    (0, vec![(100.0, 100.0, 60.0)]),
                    (200, vec![(150.0, 100.0, 60.0)]),
                    (400, vec![(220.0, 100.0, 60.0)]),
                    (600, vec![(290.0, 100.0, 60.0)]),
                ],
                vec![vec![1], vec![1], vec![1], vec![1]],
            ),
            (
                "a face far away is a new person",
                vec![
                    (0, vec![(100.0, 100.0, 80.0)]),
                    (200, vec![(600.0, 400.0, 80.0)]),
                ],
                vec![vec![1], vec![2]],
            ),
            (
                "a small face at the same place is not the big one",
                vec![
                    (0, vec![(100.0, 100.0, 200.0)]),
                    (200, vec![(150.0, 150.0, 40.0)]),
                ],
                vec![vec![1], vec![2]],
            ),
            (
                "a face missed for a frame or two keeps its id",
                vec![
                    (0, vec![(100.0, 100.0, 80.0)]),
                    (200, vec![]),
                    (400, vec![]),
                    (600, vec![(101.0, 100.0, 80.0)]),
                ],
                vec![vec![1], vec![], vec![], vec![1]],
            ),
            (
                "a face gone longer than max_age comes back as a new track",
                vec![
                    (0, vec![(100.0, 100.0, 80.0)]),
                    (2_000, vec![]),
                    (2_200, vec![(100.0, 100.0, 80.0)]),
                ],
                vec![vec![1], vec![], vec![2]],
            ),
        ];
        for (name, frames, expected) in cases {
            let mut tracker = Tracker::new(TrackerConfig::default());
            for ((at, dets), want) in frames.iter().zip(&expected) {
                let dets: Vec<DetectedFace> = dets.iter().map(|&(l, t, s)| face(l, t, s)).collect();
                let update = tracker.update(*at, &dets);
                assert_eq!(&update.assigned, want, "{name} at {at} ms");
            }
        }
    }

    #[test]
    fn ended_tracks_are_reported_once_and_ids_never_reused() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(0, &[face(0.0, 0.0, 50.0)]);
        let u = tracker.update(1_000, &[]);
        assert!(u.ended.is_empty());
        let u = tracker.update(1_600, &[]);
        assert_eq!(u.ended.iter().map(|t| t.id).collect::<Vec<_>>(), vec![1]);
        assert!(tracker.tracks().is_empty());
        let u = tracker.update(1_700, &[face(0.0, 0.0, 50.0)]);
        assert_eq!(u.started, vec![2]);
        assert_eq!(tracker.finish().len(), 1);
    }

    #[test]
    fn restart_ends_the_track_and_continues_on_a_new_id() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(0, &[face(0.0, 0.0, 50.0)]);
        let (ended, new_id) = tracker.restart(1, 200).unwrap();
        assert_eq!((ended.id, new_id), (1, 2));
        assert_eq!(tracker.tracks().len(), 1);
        assert_eq!(
            tracker.update(400, &[face(2.0, 0.0, 50.0)]).assigned,
            vec![2]
        );
        assert!(tracker.restart(1, 500).is_none());
    }

    #[test]
    fn iou_values() {
        let a = face(0.0, 0.0, 10.0).bbox;
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &face(20.0, 0.0, 10.0).bbox), 0.0);
        let half = iou(&a, &face(5.0, 0.0, 10.0).bbox);
        assert!((half - 50.0 / 150.0).abs() < 1e-6);
    }
}

//! Parity with dlib 20.0.1 on the shared reference set: the 5-point shape
//! predictor on dlib's HOG boxes, and face-chip extraction from dlib's points.

#[path = "../../facegate-models/tests/dlib_support/mod.rs"]
mod dlib_support;

use facegate_core::{BoundingBox, Point};
use facegate_vision::dlib::{
    FACE_CHIP_PADDING, FACE_CHIP_SIZE, ShapePredictor, face_chip, landmarks5_from_dlib,
};

/// dlib's predictor is deterministic given the pixels: with the reference
/// run's own decoded pixels every landmark matches exactly (verified with
/// PIL dumps, see `dlib_support::load_as_reference`). JPEG decoders differ by ±1 on a few
/// percent of values (the `image` crate vs libjpeg-turbo), which flips a few
/// of the ~30 000 tree splits per face; the bounds below allow for that.
#[test]
fn shape_predictor_matches_dlib_landmarks() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let Some(dat) = dlib_support::model_file("shape_predictor_5_face_landmarks.dat") else {
        return;
    };
    let sp = ShapePredictor::from_dat(&dat).expect("parse shape predictor");
    assert_eq!(sp.num_parts(), 5);
    let faces = dlib_support::reference_faces(&shared);
    let mut cache: Option<(String, image::RgbImage, bool)> = None;
    let (mut worst, mut sum, mut n, mut exact) = (0f32, 0f32, 0usize, 0usize);
    let mut worst_same_pixels = 0f32;
    for face in &faces {
        if cache.as_ref().is_none_or(|(p, _, _)| *p != face.image) {
            let (img, same) = dlib_support::load_as_reference(&shared, &face.image);
            cache = Some((face.image.clone(), img, same));
        }
        let Some((_, img, same_pixels)) = cache.as_ref() else {
            continue;
        };
        let [l, t, r, b] = face.rect_ltrb.map(|v| v as f32);
        let pts = sp
            .predict5(img, BoundingBox::new(l, t, r + 1.0, b + 1.0))
            .expect("5 points");
        for (got, want) in pts.iter().zip(&face.points) {
            let err = got.distance(Point::new(want[0], want[1]));
            worst = worst.max(err);
            if *same_pixels {
                worst_same_pixels = worst_same_pixels.max(err);
            }
            sum += err;
            n += 1;
            exact += usize::from(err == 0.0);
        }
    }
    let mean = sum / n as f32;
    println!(
        "shape predictor over {} faces: max landmark error {worst:.2} px, mean {mean:.3} px, {exact}/{n} exact",
        faces.len()
    );
    assert!(
        worst_same_pixels <= 1.0,
        "landmark error {worst_same_pixels} px on the reference pixels"
    );
    assert!(
        worst <= 4.0 && mean <= 0.75,
        "landmark error max {worst} / mean {mean} px beyond decoder noise"
    );
}

#[test]
fn face_chips_match_dlib_chips() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/reference/dlib");
    let mut cache: Option<(String, image::RgbImage)> = None;
    let (mut worst_mean, mut total, mut count, mut max_px) = (0f64, 0f64, 0usize, 0u8);
    let mut all_reference_pixels = true;
    for face in dlib_support::reference_faces(&shared) {
        let Some(chip_path) = &face.chip else {
            continue;
        };
        if cache.as_ref().is_none_or(|(p, _)| *p != face.image) {
            let (img, same) = dlib_support::load_as_reference(&shared, &face.image);
            all_reference_pixels &= same;
            cache = Some((face.image.clone(), img));
        }
        let Some((_, img)) = cache.as_ref() else {
            continue;
        };
        let points = face.points.map(|p| Point::new(p[0], p[1]));
        let chip = face_chip(img, &points, FACE_CHIP_SIZE, FACE_CHIP_PADDING);
        let want = image::open(dir.join(chip_path))
            .expect("decode chip")
            .to_rgb8();
        assert_eq!(chip.dimensions(), want.dimensions());
        let mut sum = 0u64;
        for (a, b) in chip.as_raw().iter().zip(want.as_raw()) {
            let d = a.abs_diff(*b);
            sum += u64::from(d);
            max_px = max_px.max(d);
        }
        let mean = sum as f64 / chip.as_raw().len() as f64;
        println!("{chip_path}: mean abs error {mean:.3}");
        worst_mean = worst_mean.max(mean);
        total += mean;
        count += 1;
    }
    assert!(count > 0);
    println!(
        "face chips over {count} faces: mean abs error {:.3} (worst chip {worst_mean:.3}, max pixel diff {max_px}) on 0..255",
        total / count as f64
    );
    if all_reference_pixels {
        // Same pixels in, dlib's arithmetic throughout: identical chips.
        assert!(
            max_px <= 1,
            "chips differ by up to {max_px} on the reference pixels"
        );
    }
    assert!(worst_mean < 1.0, "chip mean abs error {worst_mean} ≥ 1.0");
}

#[test]
fn dlib_points_convert_to_plausible_landmarks5() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    for face in dlib_support::reference_faces(&shared) {
        let p = face.points.map(|p| Point::new(p[0], p[1]));
        let l = landmarks5_from_dlib(&p);
        let [left, top, right, bottom] = face.rect_ltrb.map(|v| v as f32);
        let inside = |q: Point| {
            q.x >= left - 20.0 && q.x <= right + 20.0 && q.y >= top - 20.0 && q.y <= bottom + 40.0
        };
        assert!(
            l.points().iter().all(|q| inside(*q)),
            "{}: {l:?} outside {:?}",
            face.image,
            face.rect_ltrb
        );
        assert!(l.left_eye().x < l.right_eye().x);
        assert!(l.nose().y > l.left_eye().y && l.mouth_left().y > l.nose().y);
    }
}

#[test]
fn malformed_shape_predictor_is_an_error() {
    assert!(ShapePredictor::from_dat(b"").is_err());
    assert!(ShapePredictor::from_dat(&[0x01, 0x02]).is_err());
    let Some(dat) = dlib_support::model_file("shape_predictor_5_face_landmarks.dat") else {
        return;
    };
    assert!(ShapePredictor::from_dat(&dat[..dat.len() / 3]).is_err());
    assert!(ShapePredictor::from_dat(&dat[..dat.len() - 1]).is_err());
}

/// The 68-point model runs through the same code; its eye corners (36, 39,
/// 42, 45) should land near the 5-point model's on the same box.
#[test]
fn sixty_eight_point_model_agrees_with_the_five_point_one() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let Some(dat) = dlib_support::model_file("shape_predictor_68_face_landmarks.dat") else {
        return;
    };
    let sp68 = ShapePredictor::from_dat(&dat).expect("parse 68-point model");
    assert_eq!(sp68.num_parts(), 68);
    let face = &dlib_support::reference_faces(&shared)[0];
    let img = dlib_support::load_image(&shared, &face.image);
    let [l, t, r, b] = face.rect_ltrb.map(|v| v as f32);
    let pts = sp68.predict(&img, BoundingBox::new(l, t, r + 1.0, b + 1.0));
    assert_eq!(pts.len(), 68);
    assert!(
        sp68.predict5(&img, BoundingBox::new(l, t, r + 1.0, b + 1.0))
            .is_none()
    );
    // dlib 5-point order: 0/1 = points 45/42, 2/3 = points 36/39.
    for (i5, i68) in [(0, 45), (1, 42), (2, 36), (3, 39)] {
        let want = Point::new(face.points[i5][0], face.points[i5][1]);
        let d = pts[i68].distance(want);
        assert!(d < 8.0, "68-point {i68} is {d:.1} px from 5-point {i5}");
    }
}

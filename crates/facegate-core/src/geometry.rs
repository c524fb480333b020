use serde::{Deserialize, Serialize};

/// A point in image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    pub fn distance(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// An axis-aligned box: `left, top` inclusive, `right, bottom` exclusive, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl BoundingBox {
    pub const fn new(left: f32, top: f32, right: f32, bottom: f32) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
        }
    }

    pub fn from_xywh(x: f32, y: f32, width: f32, height: f32) -> Self {
        Self::new(x, y, x + width, y + height)
    }

    pub fn width(&self) -> f32 {
        (self.right - self.left).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.bottom - self.top).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point::new(
            (self.left + self.right) / 2.0,
            (self.top + self.bottom) / 2.0,
        )
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let inter = BoundingBox::new(
            self.left.max(other.left),
            self.top.max(other.top),
            self.right.min(other.right),
            self.bottom.min(other.bottom),
        )
        .area();
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// Clamp to an image of `width × height` pixels.
    pub fn clamped(&self, width: u32, height: u32) -> BoundingBox {
        let (w, h) = (width as f32, height as f32);
        BoundingBox::new(
            self.left.clamp(0.0, w),
            self.top.clamp(0.0, h),
            self.right.clamp(0.0, w),
            self.bottom.clamp(0.0, h),
        )
    }
}

/// The five facial landmarks every supported detector gives, in this order:
/// left eye, right eye, nose tip, left mouth corner, right mouth corner
/// ("left" as seen in the image, i.e. the subject's right eye).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Landmarks5(pub [Point; 5]);

impl Landmarks5 {
    pub fn left_eye(&self) -> Point {
        self.0[0]
    }
    pub fn right_eye(&self) -> Point {
        self.0[1]
    }
    pub fn nose(&self) -> Point {
        self.0[2]
    }
    pub fn mouth_left(&self) -> Point {
        self.0[3]
    }
    pub fn mouth_right(&self) -> Point {
        self.0[4]
    }
    pub fn points(&self) -> &[Point; 5] {
        &self.0
    }
}

/// One face found by a detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectedFace {
    pub bbox: BoundingBox,
    /// Detector confidence in `[0, 1]`.
    pub score: f32,
    pub landmarks: Landmarks5,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_boxes_is_one_and_disjoint_is_zero() {
        let a = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        let b = BoundingBox::new(20.0, 20.0, 30.0, 30.0);
        assert_eq!(a.iou(&b), 0.0);
        let c = BoundingBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&c) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn clamping_keeps_box_inside_image() {
        let b = BoundingBox::new(-5.0, -1.0, 120.0, 50.0).clamped(100, 40);
        assert_eq!(b, BoundingBox::new(0.0, 0.0, 100.0, 40.0));
    }
}

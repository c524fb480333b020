//! The bits of dlib's geometry the shape predictor and chip extraction rely
//! on, with dlib's exact conventions: similarity fitting, `drectangle`
//! (inclusive corners, `width = right − left + 1`), rotation about a centre
//! and `floor(x + 0.5)` rounding to integer points.

/// A 2-d affine map `p ↦ m·p + t` in `f64` (dlib's `point_transform_affine`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Affine {
    pub m: [[f64; 2]; 2],
    pub t: [f64; 2],
}

impl Affine {
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [
            self.m[0][0] * p[0] + self.m[0][1] * p[1] + self.t[0],
            self.m[1][0] * p[0] + self.m[1][1] * p[1] + self.t[1],
        ]
    }
}

/// The least-squares similarity transform (rotation, uniform scale,
/// translation; no reflection) taking `from[i]` to `to[i]` — the solution of
/// dlib's `find_similarity_transform` (Umeyama), in closed form for 2-d.
/// Degenerate input (all `from` points equal) gives a pure translation.
pub(crate) fn similarity(from: &[[f64; 2]], to: &[[f64; 2]]) -> Affine {
    let n = from.len().min(to.len()).max(1) as f64;
    let mean = |pts: &[[f64; 2]]| {
        let s = pts
            .iter()
            .fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    let (mf, mt) = (mean(from), mean(to));
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (f, t) in from.iter().zip(to) {
        let (fx, fy) = (f[0] - mf[0], f[1] - mf[1]);
        let (tx, ty) = (t[0] - mt[0], t[1] - mt[1]);
        dot += fx * tx + fy * ty;
        cross += fx * ty - fy * tx;
        norm += fx * fx + fy * fy;
    }
    let (a, b) = if norm > 0.0 {
        (dot / norm, cross / norm)
    } else {
        (1.0, 0.0)
    };
    let m = [[a, -b], [b, a]];
    let t = [
        mt[0] - (a * mf[0] - b * mf[1]),
        mt[1] - (b * mf[0] + a * mf[1]),
    ];
    Affine { m, t }
}

/// dlib's `drectangle`: corners inclusive, empty when `left > right` or
/// `top > bottom`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DRect {
    pub l: f64,
    pub t: f64,
    pub r: f64,
    pub b: f64,
}

impl DRect {
    pub const EMPTY: DRect = DRect {
        l: 0.0,
        t: 0.0,
        r: -1.0,
        b: -1.0,
    };

    pub fn is_empty(&self) -> bool {
        self.t > self.b || self.l > self.r
    }
    pub fn width(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.r - self.l + 1.0
        }
    }
    pub fn height(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.b - self.t + 1.0
        }
    }
    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }
    pub fn center(&self) -> [f64; 2] {
        [(self.l + self.r) / 2.0, (self.t + self.b) / 2.0]
    }
    pub fn tl(&self) -> [f64; 2] {
        [self.l, self.t]
    }
    pub fn tr(&self) -> [f64; 2] {
        [self.r, self.t]
    }
    pub fn bl(&self) -> [f64; 2] {
        [self.l, self.b]
    }
    pub fn br(&self) -> [f64; 2] {
        [self.r, self.b]
    }
    /// `centered_drect`: a `w × h` rectangle (dlib widths) around `p`.
    pub fn centered(p: [f64; 2], w: f64, h: f64) -> DRect {
        let (w, h) = (w - 1.0, h - 1.0);
        DRect {
            l: p[0] - w / 2.0,
            t: p[1] - h / 2.0,
            r: p[0] + w / 2.0,
            b: p[1] + h / 2.0,
        }
    }
    /// Union with a point (dlib's `rect += point`).
    pub fn add_point(&self, p: [f64; 2]) -> DRect {
        if self.is_empty() {
            return DRect {
                l: p[0],
                t: p[1],
                r: p[0],
                b: p[1],
            };
        }
        DRect {
            l: self.l.min(p[0]),
            t: self.t.min(p[1]),
            r: self.r.max(p[0]),
            b: self.b.max(p[1]),
        }
    }
    pub fn grow(&self, g: f64) -> DRect {
        DRect {
            l: self.l - g,
            t: self.t - g,
            r: self.r + g,
            b: self.b + g,
        }
    }
    pub fn intersect(&self, o: &DRect) -> DRect {
        DRect {
            l: self.l.max(o.l),
            t: self.t.max(o.t),
            r: self.r.min(o.r),
            b: self.b.min(o.b),
        }
    }
    pub fn translate(&self, d: [f64; 2]) -> DRect {
        DRect {
            l: self.l + d[0],
            t: self.t + d[1],
            r: self.r + d[0],
            b: self.b + d[1],
        }
    }
    /// Conversion to dlib's integer `rectangle` (each side rounded).
    pub fn round(&self) -> [i64; 4] {
        [
            round_half_up(self.l),
            round_half_up(self.t),
            round_half_up(self.r),
            round_half_up(self.b),
        ]
    }
}

/// `rotate_point(center, p, angle)`.
pub(crate) fn rotate_point(center: [f64; 2], p: [f64; 2], angle: f64) -> [f64; 2] {
    let (s, c) = angle.sin_cos();
    let (x, y) = (p[0] - center[0], p[1] - center[1]);
    [c * x - s * y + center[0], s * x + c * y + center[1]]
}

/// dlib's float → integer point conversion: `floor(x + 0.5)`.
pub(crate) fn round_half_up(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let (s, a) = (1.7f64, 0.3f64);
        let want = Affine {
            m: [[s * a.cos(), -s * a.sin()], [s * a.sin(), s * a.cos()]],
            t: [4.0, -2.5],
        };
        let from = [[0.0, 0.0], [10.0, 1.0], [3.0, 7.0], [-2.0, 5.0]];
        let to: Vec<_> = from.iter().map(|p| want.apply(*p)).collect();
        let got = similarity(&from, &to);
        for i in 0..2 {
            assert!((got.t[i] - want.t[i]).abs() < 1e-9);
            for j in 0..2 {
                assert!((got.m[i][j] - want.m[i][j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn degenerate_similarity_is_a_translation() {
        let got = similarity(&[[1.0, 1.0], [1.0, 1.0]], &[[3.0, 4.0], [5.0, 4.0]]);
        assert_eq!(got.m, [[1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(got.apply([1.0, 1.0]), [4.0, 4.0]);
    }

    #[test]
    fn drect_follows_dlib_conventions() {
        let r = DRect::centered([10.0, 10.0], 5.0, 3.0);
        assert_eq!((r.l, r.t, r.r, r.b), (8.0, 9.0, 12.0, 11.0));
        assert_eq!((r.width(), r.height(), r.area()), (5.0, 3.0, 15.0));
        assert!(DRect::EMPTY.is_empty());
        assert_eq!(DRect::EMPTY.add_point([2.0, 3.0]).area(), 1.0);
        assert_eq!(round_half_up(-0.5), 0);
        assert_eq!(round_half_up(2.5), 3);
    }
}

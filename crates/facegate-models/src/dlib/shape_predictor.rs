//! `shape_predictor_*_face_landmarks.dat`: dlib's cascade of regression-tree
//! forests (Kazemi & Sullivan, "One Millisecond Face Alignment with an
//! Ensemble of Regression Trees", CVPR 2014), as serialised by
//! `dlib/image_processing/shape_predictor.h`.
//!
//! The file holds: a version (1); the mean shape in box-normalised
//! coordinates (`[x0, y0, x1, y1, …]`); per cascade level a forest of
//! complete binary trees whose splits compare two feature pixels and whose
//! leaves hold a shape increment; and per level the feature pixels encoded as
//! (nearest mean-shape landmark, offset from it). This module only reads and
//! validates it; `facegate_vision::dlib::ShapePredictor` evaluates it.

use super::DlibError;
use super::reader::Reader;

/// One split node: go left when `pixel[idx1] − pixel[idx2] > thresh`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub idx1: u32,
    pub idx2: u32,
    pub thresh: f32,
}

/// A complete binary tree in array order (children of node `i` are `2i+1`
/// and `2i+2`); `leaf_values` holds `splits.len() + 1` shape increments of
/// `2 × num_parts` values each, concatenated.
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionTree {
    pub splits: Vec<Split>,
    pub leaf_values: Vec<f32>,
}

/// A parsed and validated dlib shape predictor. Every index in it is checked
/// against the sizes it refers to, so evaluation cannot go out of bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapePredictorModel {
    /// Mean shape `[x0, y0, x1, y1, …]`, box-normalised (0..1 spans the box).
    pub initial_shape: Vec<f32>,
    /// One forest per cascade level.
    pub forests: Vec<Vec<RegressionTree>>,
    /// Per level, per feature pixel: the mean-shape landmark it is anchored to.
    pub anchor_idx: Vec<Vec<u32>>,
    /// Per level, per feature pixel: its offset from that landmark.
    pub deltas: Vec<Vec<[f32; 2]>>,
}

impl ShapePredictorModel {
    /// Parse a `shape_predictor` `.dat` file (5- or 68-point, or any other).
    pub fn from_dat(bytes: &[u8]) -> Result<Self, DlibError> {
        let mut r = Reader::new(bytes);
        r.expect_int(1, "shape_predictor version")?;
        let m = r.matrix()?;
        let initial_shape = m.data;
        let forests = r.vec(|r| r.vec(read_tree))?;
        let anchor_idx = r.vec(|r| {
            r.vec(|r| {
                let at = r.offset();
                let v = r.size()?;
                u32::try_from(v).map_err(|_| DlibError::malformed(at, "anchor index overflows u32"))
            })
        })?;
        let deltas = r.vec(|r| r.vec(|r| r.point2()))?;
        r.finish()?;
        let model = Self {
            initial_shape,
            forests,
            anchor_idx,
            deltas,
        };
        model.validate()?;
        Ok(model)
    }

    /// Number of landmarks the model predicts.
    pub fn num_parts(&self) -> usize {
        self.initial_shape.len() / 2
    }

    fn validate(&self) -> Result<(), DlibError> {
        let bad = |m: String| {
            Err(DlibError::Unsupported(format!(
                "inconsistent shape predictor: {m}"
            )))
        };
        let len = self.initial_shape.len();
        if len == 0 || !len.is_multiple_of(2) {
            return bad(format!("initial shape of {len} values"));
        }
        let levels = self.forests.len();
        if self.anchor_idx.len() != levels || self.deltas.len() != levels {
            return bad(format!(
                "{levels} forests, {} anchor sets, {} delta sets",
                self.anchor_idx.len(),
                self.deltas.len()
            ));
        }
        for level in 0..levels {
            let pixels = self.anchor_idx[level].len();
            if self.deltas[level].len() != pixels {
                return bad(format!(
                    "level {level}: anchors and deltas differ in number"
                ));
            }
            if self.anchor_idx[level]
                .iter()
                .any(|a| *a as usize >= self.num_parts())
            {
                return bad(format!(
                    "level {level}: anchor index beyond the {} parts",
                    self.num_parts()
                ));
            }
            for (t, tree) in self.forests[level].iter().enumerate() {
                let leaves = tree.splits.len() + 1;
                if !leaves.is_power_of_two() || tree.leaf_values.len() != leaves * len {
                    return bad(format!(
                        "level {level} tree {t}: leaves do not complete the tree"
                    ));
                }
                if tree
                    .splits
                    .iter()
                    .any(|s| s.idx1 as usize >= pixels || s.idx2 as usize >= pixels)
                {
                    return bad(format!(
                        "level {level} tree {t}: split on a pixel beyond {pixels}"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn read_tree(r: &mut Reader<'_>) -> Result<RegressionTree, DlibError> {
    let splits = r.vec(|r| {
        let at = r.offset();
        let idx1 = u32::try_from(r.size()?)
            .map_err(|_| DlibError::malformed(at, "split index overflows u32"))?;
        let idx2 = u32::try_from(r.size()?)
            .map_err(|_| DlibError::malformed(at, "split index overflows u32"))?;
        Ok(Split {
            idx1,
            idx2,
            thresh: r.f32()?,
        })
    })?;
    let leaves = r.vec(|r| r.matrix())?;
    let mut leaf_values = Vec::with_capacity(leaves.iter().map(|m| m.data.len()).sum());
    for m in leaves {
        leaf_values.extend_from_slice(&m.data);
    }
    Ok(RegressionTree {
        splits,
        leaf_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: u8) -> [u8; 2] {
        [0x01, v]
    }

    /// A 1-point model with one level, one depth-1 tree and 2 feature pixels.
    fn tiny_model() -> Vec<u8> {
        let one = [0x01, 0x10, 0x81, 0x04]; // 1.0 as float_details
        let zero = [0x01, 0x00, 0x01, 0x0b];
        let mut b = Vec::new();
        b.extend(int(1)); // version
        b.extend([0x81, 0x02, 0x81, 0x01]); // 2×1 matrix
        b.extend(zero);
        b.extend(one);
        b.extend(int(1)); // 1 level
        b.extend(int(1)); // 1 tree
        b.extend(int(1)); // 1 split
        b.extend(int(0));
        b.extend(int(1));
        b.extend(zero);
        b.extend(int(2)); // 2 leaves of 2×1
        for _ in 0..2 {
            b.extend([0x81, 0x02, 0x81, 0x01]);
            b.extend(one);
            b.extend(zero);
        }
        b.extend(int(1)); // anchors: 1 level of 2
        b.extend(int(2));
        b.extend(int(0));
        b.extend(int(0));
        b.extend(int(1)); // deltas: 1 level of 2
        b.extend(int(2));
        for _ in 0..4 {
            b.extend(zero);
        }
        b
    }

    #[test]
    fn parses_a_minimal_model() {
        let m = ShapePredictorModel::from_dat(&tiny_model()).unwrap();
        assert_eq!(m.num_parts(), 1);
        assert_eq!(m.initial_shape, vec![0.0, 1.0]);
        assert_eq!(
            m.forests[0][0].splits,
            vec![Split {
                idx1: 0,
                idx2: 1,
                thresh: 0.0
            }]
        );
        assert_eq!(m.forests[0][0].leaf_values, vec![1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = tiny_model();
        for n in 0..full.len() {
            assert!(
                ShapePredictorModel::from_dat(&full[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
    }

    #[test]
    fn out_of_range_split_index_is_rejected() {
        let mut bytes = tiny_model();
        // The split's idx2 (third integer after the tree counts) → 5.
        let pos = 2 + 4 + 8 + 2 + 2 + 2 + 2 + 1;
        assert_eq!(bytes[pos], 1);
        bytes[pos] = 5;
        assert!(matches!(
            ShapePredictorModel::from_dat(&bytes),
            Err(DlibError::Unsupported(_))
        ));
    }
}

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EmbeddingError {
    #[error("embedding is empty")]
    Empty,
    #[error("embedding has a non-finite value")]
    NotFinite,
    #[error("embedding has zero norm")]
    ZeroNorm,
    #[error("embedding dimensions differ: {0} vs {1}")]
    DimensionMismatch(usize, usize),
}

/// A face embedding, always L2-normalised so that the dot product of two
/// embeddings is their cosine similarity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalise a raw model output into an embedding.
    pub fn from_raw(mut values: Vec<f32>) -> Result<Self, EmbeddingError> {
        if values.is_empty() {
            return Err(EmbeddingError::Empty);
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(EmbeddingError::NotFinite);
        }
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm <= f32::EPSILON {
            return Err(EmbeddingError::ZeroNorm);
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Ok(Self(values))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn dim(&self) -> usize {
        self.0.len()
    }

    /// Cosine similarity in `[-1, 1]`.
    pub fn cosine(&self, other: &Embedding) -> Result<f32, EmbeddingError> {
        if self.dim() != other.dim() {
            return Err(EmbeddingError::DimensionMismatch(self.dim(), other.dim()));
        }
        Ok(dot(&self.0, &other.0))
    }
}

impl TryFrom<Vec<f32>> for Embedding {
    type Error = EmbeddingError;
    fn try_from(values: Vec<f32>) -> Result<Self, Self::Error> {
        Self::from_raw(values)
    }
}

impl From<Embedding> for Vec<f32> {
    fn from(e: Embedding) -> Self {
        e.0
    }
}

/// Dot product written so the compiler vectorises it (four independent accumulators).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = a.len() / 4;
    for i in 0..chunks {
        for lane in 0..4 {
            acc[lane] += a[i * 4 + lane] * b[i * 4 + lane];
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for i in chunks * 4..a.len().min(b.len()) {
        sum += a[i] * b[i];
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_measures_cosine() {
        let a = Embedding::from_raw(vec![3.0, 4.0]).unwrap();
        assert!((a.as_slice()[0] - 0.6).abs() < 1e-6);
        let b = Embedding::from_raw(vec![4.0, -3.0]).unwrap();
        assert!(a.cosine(&b).unwrap().abs() < 1e-6);
        assert!((a.cosine(&a).unwrap() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_degenerate_vectors() {
        assert_eq!(Embedding::from_raw(vec![]), Err(EmbeddingError::Empty));
        assert_eq!(
            Embedding::from_raw(vec![0.0; 4]),
            Err(EmbeddingError::ZeroNorm)
        );
        assert_eq!(
            Embedding::from_raw(vec![f32::NAN]),
            Err(EmbeddingError::NotFinite)
        );
        let a = Embedding::from_raw(vec![1.0; 3]).unwrap();
        let b = Embedding::from_raw(vec![1.0; 4]).unwrap();
        assert_eq!(a.cosine(&b), Err(EmbeddingError::DimensionMismatch(3, 4)));
    }

    #[test]
    fn dot_handles_lengths_not_multiple_of_four() {
        let a: Vec<f32> = (0..7).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..7).map(|i| (i * i) as f32).sum::<f32>());
    }
}

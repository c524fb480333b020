//! Pack definitions compiled into the binary (`packs/*.toml` in this crate).

use super::{Manifest, PackError};

const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../packs/default.toml")),
    ("dlib", include_str!("../../packs/dlib.toml")),
    (
        "mobilefacenet",
        include_str!("../../packs/mobilefacenet.toml"),
    ),
    ("minifasnet", include_str!("../../packs/minifasnet.toml")),
    ("yunet", include_str!("../../packs/yunet.toml")),
];

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

pub fn builtin(name: &str) -> Result<Manifest, PackError> {
    let (_, text) = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| PackError::UnknownPack(name.to_owned(), builtin_names().join(", ")))?;
    Manifest::from_toml(text)
}

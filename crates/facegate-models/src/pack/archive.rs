//! Reading one member out of a registry archive (sdist/npm `.tar.gz`, wheel `.zip`).

use std::io::Read;
use std::path::Path;

use super::PackError;

/// Upper bound on one extracted member, so a hostile archive cannot exhaust memory.
const MAX_MEMBER_BYTES: u64 = 512 * 1024 * 1024;

pub fn read_member(archive: &Path, member: &str) -> Result<Vec<u8>, PackError> {
    let name = archive.to_string_lossy().to_string();
    let file = std::fs::File::open(archive).map_err(PackError::io(archive))?;
    let missing = || PackError::MissingMember {
        archive: name.clone(),
        member: member.to_owned(),
    };
    if name.ends_with(".whl") || name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| PackError::Fetch {
            what: name.clone(),
            message: e.to_string(),
        })?;
        let entry = zip.by_name(member).map_err(|_| missing())?;
        return read_bounded(entry, &name);
    }
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = tar.entries().map_err(PackError::io(archive))?;
    for entry in entries {
        let entry = entry.map_err(PackError::io(archive))?;
        let path = entry.path().map_err(PackError::io(archive))?;
        if path.to_string_lossy() == member {
            return read_bounded(entry, &name);
        }
    }
    Err(missing())
}

fn read_bounded(reader: impl Read, name: &str) -> Result<Vec<u8>, PackError> {
    let mut out = Vec::new();
    reader
        .take(MAX_MEMBER_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(PackError::io(name))?;
    if out.len() as u64 > MAX_MEMBER_BYTES {
        return Err(PackError::Fetch {
            what: name.to_owned(),
            message: "archive member is too large".into(),
        });
    }
    Ok(out)
}

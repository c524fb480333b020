//! JWT access tokens, opaque refresh tokens and API key secrets.

use std::path::Path;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Account id.
    pub sub: String,
    /// Organisation id the token acts in.
    pub org: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Session id: the refresh-token row issued with this token. The token is
    /// honoured only while that session is current, so logout, rotation,
    /// reuse detection, disabling and removal end it at once. Tokens from
    /// before sessions were bound lack it and are refused as ended sessions.
    #[serde(default)]
    pub sid: String,
    /// Always `access`; refresh tokens are not JWTs.
    pub typ: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Sign an access token for `account_id` acting in `org_id`, bound to
    /// session `session_id`; returns the token and its expiry (Unix seconds).
    pub fn issue(
        &self,
        account_id: &str,
        org_id: &str,
        session_id: &str,
        ttl_secs: u64,
    ) -> Result<(String, i64), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + ttl_secs as i64;
        let claims = Claims {
            sub: account_id.to_string(),
            org: org_id.to_string(),
            iat: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_string(),
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map(|t| (t, exp))
            .map_err(|e| {
                tracing::error!("jwt encode failed: {e}");
                ApiError::internal()
            })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized(
                    "token_expired",
                    "the access token has expired; refresh it or log in again",
                ),
                ErrorKind::InvalidSignature => ApiError::unauthorized(
                    "invalid_token",
                    "the access token's signature is not valid",
                ),
                _ => ApiError::unauthorized(
                    "invalid_token",
                    "the access token is malformed or not valid",
                ),
            })?;
        if data.claims.typ != "access" {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "not an access token",
            ));
        }
        Ok(data.claims)
    }
}

/// The JWT signing key: configured, or generated once into `data_dir/jwt.key`
/// (mode 0600) so tokens survive restarts without a secret in any config.
pub fn load_or_create_secret(configured: &str, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let trimmed = existing.trim();
        if trimmed.len() >= 32 {
            return Ok(trimmed.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = hex::encode(random_bytes::<32>());
    write_private(&path, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new JWT signing key");
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::fill(&mut b);
    b
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A new refresh token (returned to the client) and its stored hash.
pub fn new_refresh_token() -> (String, String) {
    let token = format!(
        "fgr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    );
    let hash = sha256_hex(&token);
    (token, hash)
}

/// A new API key: `fgk_<8 prefix chars>_<secret>`, its display prefix and hash.
pub fn new_api_key() -> (String, String, String) {
    let prefix = hex::encode(random_bytes::<4>());
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let key = format!("fgk_{prefix}_{secret}");
    let hash = sha256_hex(&key);
    (key, format!("fgk_{prefix}"), hash)
}

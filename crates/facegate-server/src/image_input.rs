//! Images arrive three ways and every image route accepts all of them:
//!
//! * `multipart/form-data` with a file field `image` (or `file`), other
//!   fields as parameters;
//! * `application/json` with `image` as base64 (a `data:` URL prefix is
//!   fine) next to the parameters;
//! * a raw body (`application/octet-stream` or `image/*`) with parameters in
//!   the query string.
//!
//! Parameters are one struct per route (`deny_unknown_fields`), so a typo is
//! a 4xx that names the field rather than a silently ignored option.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use base64::Engine as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, body_rejection};

pub struct ImageInput<P> {
    pub image: Option<Vec<u8>>,
    /// A second image (image-vs-image verify).
    pub image2: Option<Vec<u8>>,
    pub params: P,
}

impl<P> ImageInput<P> {
    pub fn require_image(&mut self) -> Result<Vec<u8>, ApiError> {
        self.image
            .take()
            .filter(|i| !i.is_empty())
            .ok_or_else(missing_image)
    }
}

pub fn missing_image() -> ApiError {
    ApiError::bad_request(
        "missing_image",
        "no image: send a multipart file field `image`, a JSON field `image` with base64 data, or a raw application/octet-stream body",
    )
}

/// Base64 (standard or URL-safe, padded or not, optionally a `data:` URL).
pub fn decode_base64_image(field: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    let s = s.trim();
    let s = match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or("", |(_, data)| data),
        None => s,
    };
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        if let Ok(bytes) = e.decode(&cleaned) {
            if bytes.is_empty() {
                break;
            }
            return Ok(bytes);
        }
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_base64",
        format!("`{field}` must be a non-empty base64-encoded image"),
    ))
}

fn params_from_pairs<P: DeserializeOwned>(
    query: &str,
    pairs: &[(String, String)],
) -> Result<P, ApiError> {
    let mut encoded = query.to_string();
    if !pairs.is_empty() {
        let form = serde_urlencoded::to_string(pairs).map_err(|_| ApiError::internal())?;
        if !encoded.is_empty() {
            encoded.push('&');
        }
        encoded.push_str(&form);
    }
    serde_urlencoded::from_str(&encoded).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
            format!("invalid parameter: {e}"),
        )
    })
}

impl<P, S> FromRequest<S> for ImageInput<P>
where
    P: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let query = req.uri().query().unwrap_or("").to_string();
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();

        if mime == "application/json" {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| body_rejection(e.status(), e.body_text()))?;
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
            })?;
            let serde_json::Value::Object(mut map) = value else {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    "the JSON body must be an object",
                ));
            };
            let mut take = |name: &str| -> Result<Option<Vec<u8>>, ApiError> {
                match map.remove(name) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(s)) => decode_base64_image(name, &s).map(Some),
                    Some(_) => Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_field",
                        format!("`{name}` must be a base64 string"),
                    )),
                }
            };
            let image = take("image")?;
            let image2 = take("image2")?;
            let params = serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    e.to_string(),
                )
            })?;
            return Ok(ImageInput {
                image,
                image2,
                params,
            });
        }

        if mime == "multipart/form-data" {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
            let mut image = None;
            let mut image2 = None;
            let mut pairs = Vec::new();
            while let Some(field) = multipart.next_field().await? {
                let name = field.name().unwrap_or("").to_string();
                match name.as_str() {
                    "image" | "file" => image = Some(field.bytes().await?.to_vec()),
                    "image2" => image2 = Some(field.bytes().await?.to_vec()),
                    _ => {
                        let text = field.text().await?;
                        pairs.push((name, text));
                    }
                }
            }
            let params = params_from_pairs(&query, &pairs)?;
            return Ok(ImageInput {
                image,
                image2,
                params,
            });
        }

        if mime.is_empty() || mime == "application/octet-stream" || mime.starts_with("image/") {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| body_rejection(e.status(), e.body_text()))?;
            let params = params_from_pairs(&query, &[])?;
            let image = (!body.is_empty()).then(|| body.to_vec());
            return Ok(ImageInput {
                image,
                image2: None,
                params,
            });
        }

        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type {mime:?} is not accepted here: use multipart/form-data, application/json or application/octet-stream"
            ),
        ))
    }
}

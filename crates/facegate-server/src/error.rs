//! The one error shape every route returns:
//! `{"error": {"code": "...", "message": "..."}}`.
//!
//! Client errors say what was wrong; server errors say nothing about
//! internals (the details go to the log with the request id).

use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use facegate_store::StoreError;
use facegate_vision::VisionError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds): when a 429 or 503 knows how long
    /// the client should wait.
    pub retry_after_secs: Option<u64>,
    /// Machine-readable context for the client (`error.details`), e.g. the
    /// faces found when a photo has several.
    pub details: Option<serde_json::Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            details: None,
        }
    }
    /// Attach `error.details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
    /// Ask the client to wait `secs` (at least 1) before retrying.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs.max(1));
        self
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has details under this request's id",
        )
    }
    pub fn engine_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine_unavailable",
            "the face engine is not loaded (no model pack installed?); recognition is unavailable",
        )
    }
}

/// The body of every error response (4xx and 5xx).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `invalid_field`,
    /// `rate_limited`, `forbidden`, ...
    #[schema(example = "invalid_field")]
    pub code: String,
    /// For people: says what was wrong and, where it helps, how to fix it.
    pub message: String,
    /// Present on some errors, for programs: `multiple_faces` lists the
    /// `faces` found (`index`, `box`, `score`) so the caller can choose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                details: self.details,
            },
        });
        let mut response = (self.status, body).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Invalid(m) => ApiError::invalid(m),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl From<VisionError> for ApiError {
    fn from(e: VisionError) -> Self {
        if e.is_bad_input() {
            let code = match &e {
                VisionError::Decode(facegate_vision::decode::DecodeError::TooManyPixels {
                    ..
                }) => {
                    return ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "image_too_large",
                        e.to_string(),
                    );
                }
                VisionError::Decode(facegate_vision::decode::DecodeError::TooLarge { .. }) => {
                    return ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "image_too_large",
                        e.to_string(),
                    );
                }
                VisionError::Decode(_) => "invalid_image",
                _ => "invalid_input",
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
        } else {
            tracing::error!(error = %e, "face engine failure");
            ApiError::internal()
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a JSON body with `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", inner(&e.body_text())),
            ),
            JsonRejection::JsonDataError(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                inner(&e.body_text()),
            ),
            JsonRejection::BytesRejection(e) => body_rejection(e.status(), e.body_text()),
            other => ApiError::bad_request("invalid_body", other.body_text()),
        }
    }
}

/// axum's texts start with a generic sentence; keep the useful part.
fn inner(text: &str) -> String {
    match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("Failed to") => rest.to_string(),
        _ => text.to_string(),
    }
}

pub(crate) fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "body_too_large",
            "the request body is over the size limit",
        )
    } else {
        ApiError::bad_request("invalid_body", text)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!("invalid query string: {}", inner(&r.body_text())),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", inner(&r.body_text()))
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        body_rejection(
            e.status(),
            format!("invalid multipart body: {}", e.body_text()),
        )
    }
}

/// Wrappers whose rejections use [`ApiError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

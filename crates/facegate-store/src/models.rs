//! Row types. They are plain data; validation of user input happens in the
//! server before anything reaches the store.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// Roles within one organisation, highest first. Ordering is by power, so
/// `role >= Role::Admin` reads as "at least admin".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// What the service does with a liveness score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LivenessPolicy {
    /// Liveness is not evaluated for decisions.
    Off,
    /// Records are kept but marked as suspicious.
    #[default]
    Flag,
    /// Spoof-looking faces are refused.
    Reject,
}

/// What happens when a face matches nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnknownFacePolicy {
    /// Refuse and write a denied entry to the access log.
    #[default]
    Log,
    /// Refuse without logging (privacy-sensitive sites).
    Ignore,
}

/// When the engine may turn an image by 90°, 270° or 180° because no
/// plausible upright face was found (photos without an EXIF orientation).
/// Each turn tried costs one more detection, and only on images without a
/// usable upright face, so it is a latency question for the live flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AutoRotate {
    /// Enrolment only (template uploads): photos come from anywhere there,
    /// while identify, verify, detect, access and attendance come from
    /// cameras that are mounted upright and must answer fast.
    #[default]
    Enrolment,
    /// Every flow.
    Always,
    /// No flow.
    Never,
}

impl AutoRotate {
    /// Whether enrolment (`true`) or a recognition flow (`false`) turns images.
    pub fn applies(self, enrolment: bool) -> bool {
        match self {
            AutoRotate::Enrolment => enrolment,
            AutoRotate::Always => true,
            AutoRotate::Never => false,
        }
    }
}

/// Per-organisation business rules, stored as JSON in `organisations.settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct OrgSettings {
    /// A fixed cosine similarity needed for a match, overriding `fpir`;
    /// `None` (the default) derives the threshold from `fpir`.
    pub match_threshold: Option<f32>,
    /// Target false-positive identification rate for identification and
    /// access: the share of people *not* enrolled that may be named as
    /// someone enrolled, in `(0, 0.5]`. The threshold follows from it, the
    /// pack's calibrated FAR curve and the number of people enrolled (more
    /// people, stricter threshold). Default 0.001.
    pub fpir: f64,
    /// FPIR for attendance marks, usually looser than access (a wrong
    /// attendance record is cheaper than an open door); `None` = `fpir`.
    pub attendance_fpir: Option<f64>,
    /// When the best two enrolled people score within this cosine margin of
    /// each other the answer is `ambiguous`, not a name; 0 turns the rule
    /// off. In `[0, 0.5]`.
    pub ambiguity_margin: f32,
    /// Attendance records allowed per person per local day.
    pub max_attendance_per_day: u32,
    /// Seconds that must pass between two attendance records of one person.
    pub min_interval_seconds: u32,
    /// Whether attendance and access need a face (false allows credential-only).
    pub require_face: bool,
    /// Whether access needs a face *and* a credential.
    pub require_second_factor: bool,
    pub liveness_policy: LivenessPolicy,
    /// Live-probability at or above which a face counts as live;
    /// `None` = the model pack's threshold.
    pub liveness_threshold: Option<f32>,
    pub unknown_face_policy: UnknownFacePolicy,
    /// Keep the enrolment image next to the template (off by default: privacy).
    pub store_images: bool,
    /// IANA time zone that defines "day" and schedule windows.
    pub timezone: String,
    /// Which flows retry turned images when no upright face is found; a
    /// request's `auto_rotate` parameter overrides it.
    pub auto_rotate: AutoRotate,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            match_threshold: None,
            fpir: facegate_core::calibration::DEFAULT_FPIR,
            attendance_fpir: None,
            ambiguity_margin: facegate_core::calibration::DEFAULT_MARGIN,
            max_attendance_per_day: 2,
            min_interval_seconds: 60,
            require_face: true,
            require_second_factor: false,
            liveness_policy: LivenessPolicy::Flag,
            liveness_threshold: None,
            unknown_face_policy: UnknownFacePolicy::Log,
            store_images: false,
            timezone: "UTC".into(),
            auto_rotate: AutoRotate::Enrolment,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub settings: OrgSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    #[serde(skip)]
    pub failed_logins: i64,
    #[serde(skip)]
    pub locked_until: i64,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An account as seen from one organisation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    #[serde(flatten)]
    pub account: Account,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub org_id: String,
    pub org_name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// The first characters of the key, shown so people can tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub scopes: Vec<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub kind: String,
    pub location: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PersonStatus {
    Active,
    Suspended,
    Archived,
}

impl PersonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonStatus::Active => "active",
            PersonStatus::Suspended => "suspended",
            PersonStatus::Archived => "archived",
        }
    }
    pub fn parse(s: &str) -> Option<PersonStatus> {
        match s {
            "active" => Some(PersonStatus::Active),
            "suspended" => Some(PersonStatus::Suspended),
            "archived" => Some(PersonStatus::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: String,
    pub org_id: String,
    pub external_id: String,
    pub name: String,
    pub department: String,
    pub email: String,
    pub status: PersonStatus,
    pub rfid_code: Option<String>,
    pub nfc_tag: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Fields of a person; used for create and (fully resolved) update.
#[derive(Debug, Clone, Default)]
pub struct PersonFields {
    pub external_id: String,
    pub name: String,
    pub department: String,
    pub email: String,
    pub status: Option<PersonStatus>,
    pub rfid_code: Option<String>,
    pub nfc_tag: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PeopleFilter {
    /// Substring of name, external id, department or email (case-insensitive).
    pub q: Option<String>,
    pub status: Option<PersonStatus>,
    pub department: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A weekly access window. `weekdays` is a bit set, Monday = bit 0 … Sunday = bit 6;
/// minutes are local time of the organisation; `end_minute` is exclusive and may be
/// below `start_minute` for windows that cross midnight.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub person_id: Option<String>,
    pub device_id: Option<String>,
    pub weekdays: u8,
    pub start_minute: u32,
    pub end_minute: u32,
    /// Inclusive `YYYY-MM-DD` bounds.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    pub id: String,
    pub org_id: String,
    pub person_id: String,
    pub model_id: String,
    pub dim: i64,
    pub quality: f64,
    pub status: String,
    pub has_image: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttendanceRecord {
    pub id: String,
    pub org_id: String,
    pub person_id: String,
    pub ts: i64,
    pub day: String,
    pub kind: String,
    pub confidence: Option<f64>,
    pub liveness: Option<f64>,
    pub liveness_flagged: bool,
    pub device_id: Option<String>,
    pub source: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AttendanceFilter {
    pub person_id: Option<String>,
    pub device_id: Option<String>,
    pub from_day: Option<String>,
    pub to_day: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailySummaryRow {
    pub person_id: String,
    pub name: String,
    pub external_id: String,
    pub records: i64,
    pub first_ts: i64,
    pub last_ts: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessLogEntry {
    pub id: String,
    pub org_id: String,
    pub seq: i64,
    pub ts: i64,
    pub action: String,
    pub decision: String,
    pub reason: String,
    pub person_id: Option<String>,
    pub device_id: Option<String>,
    pub credential: Option<String>,
    pub score: Option<f64>,
    pub liveness: Option<f64>,
    pub prev_hash: String,
    pub hash: String,
}

/// What the liveness policy did with a face that did not look live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SpoofAction {
    /// Policy `flag`: the request went on, the record is marked.
    Flagged,
    /// Policy `reject` (or a failed challenge): the request was refused.
    Rejected,
}

impl SpoofAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SpoofAction::Flagged => "flagged",
            SpoofAction::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<SpoofAction> {
        match s {
            "flagged" => Some(SpoofAction::Flagged),
            "rejected" => Some(SpoofAction::Rejected),
            _ => None,
        }
    }
}

/// Which flow saw the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SpoofSource {
    Identify,
    Attendance,
    Access,
    /// The seed clients' compatibility routes.
    Compat,
    /// A failed challenge (active liveness) whose passive score failed.
    Challenge,
    /// A face a `watch` camera saw (attendance and access cameras record
    /// theirs as `attendance` and `access`, with the camera's device).
    Camera,
}

impl SpoofSource {
    pub const ALL: [SpoofSource; 6] = [
        SpoofSource::Identify,
        SpoofSource::Attendance,
        SpoofSource::Access,
        SpoofSource::Compat,
        SpoofSource::Challenge,
        SpoofSource::Camera,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpoofSource::Identify => "identify",
            SpoofSource::Attendance => "attendance",
            SpoofSource::Access => "access",
            SpoofSource::Compat => "compat",
            SpoofSource::Challenge => "challenge",
            SpoofSource::Camera => "camera",
        }
    }
    pub fn parse(s: &str) -> Option<SpoofSource> {
        SpoofSource::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A face the liveness policy flagged or rejected. The snapshot bytes are
/// fetched separately; `has_snapshot` says whether there are any.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpoofEvent {
    pub id: String,
    pub org_id: String,
    pub occurred_at: i64,
    pub device_id: Option<String>,
    /// The matched person, if the face matched anyone.
    pub person_id: Option<String>,
    /// Live probability; `None` when the pack has no liveness model.
    pub score: Option<f64>,
    /// The threshold the score was held against.
    pub threshold: f64,
    pub action: SpoofAction,
    pub source: SpoofSource,
    pub has_snapshot: bool,
    pub created_at: i64,
}

/// A spoof event to store.
#[derive(Debug, Clone)]
pub struct NewSpoofEvent<'a> {
    pub occurred_at: i64,
    pub device_id: Option<&'a str>,
    pub person_id: Option<&'a str>,
    pub score: Option<f64>,
    pub threshold: f64,
    pub action: SpoofAction,
    pub source: SpoofSource,
    /// Only when the organisation keeps images (`store_images`).
    pub snapshot: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Default)]
pub struct SpoofEventFilter {
    /// Inclusive lower bound of `occurred_at` (Unix ms).
    pub from: Option<i64>,
    /// Inclusive upper bound of `occurred_at` (Unix ms).
    pub to: Option<i64>,
    pub device_id: Option<String>,
    pub action: Option<SpoofAction>,
    pub source: Option<SpoofSource>,
    pub limit: i64,
    pub offset: i64,
}

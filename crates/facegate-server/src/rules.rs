//! Business rules that need no database: local time in the organisation's
//! zone, schedule windows, liveness policy, settings validation.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use facegate_store::{LivenessPolicy, OrgSettings, Schedule};

use crate::error::ApiError;

/// The organisation's wall clock at `ts_ms`.
pub struct LocalTime {
    pub date: NaiveDate,
    /// Monday = 0.
    pub weekday: u32,
    pub minute: u32,
}

pub fn tz_of(settings: &OrgSettings) -> Tz {
    settings.timezone.parse().unwrap_or(chrono_tz::UTC)
}

pub fn local_time(settings: &OrgSettings, ts_ms: i64) -> LocalTime {
    let utc: DateTime<Utc> = Utc
        .timestamp_millis_opt(ts_ms)
        .single()
        .unwrap_or_else(Utc::now);
    let local = utc.with_timezone(&tz_of(settings));
    LocalTime {
        date: local.date_naive(),
        weekday: local.weekday().num_days_from_monday(),
        minute: local.hour() * 60 + local.minute(),
    }
}

pub fn day_string(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub fn parse_day(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(format!(
            "`{field}` must be a date like 2026-01-31, got {s:?}"
        ))
    })
}

/// Whether `t` falls inside one schedule. Windows with `end < start` cross
/// midnight; their after-midnight part belongs to the previous weekday.
pub fn schedule_allows(s: &Schedule, t: &LocalTime) -> bool {
    let day = day_string(t.date);
    if s.valid_from.as_deref().is_some_and(|f| day.as_str() < f) {
        return false;
    }
    if s.valid_until.as_deref().is_some_and(|u| day.as_str() > u) {
        return false;
    }
    let on = |weekday: u32| s.weekdays & (1 << weekday) != 0;
    let (start, end, m) = (s.start_minute, s.end_minute, t.minute);
    if start == end {
        on(t.weekday)
    } else if start < end {
        on(t.weekday) && m >= start && m < end
    } else {
        (on(t.weekday) && m >= start) || (on((t.weekday + 6) % 7) && m < end)
    }
}

/// No schedules = no restriction; otherwise any one window must allow.
pub fn schedules_allow(schedules: &[Schedule], t: &LocalTime) -> bool {
    schedules.is_empty() || schedules.iter().any(|s| schedule_allows(s, t))
}

/// The liveness verdict for a face under the organisation's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessVerdict {
    Pass,
    /// Below threshold, policy `flag`: continue, mark the record.
    Flag,
    /// Below threshold (or no score while required), policy `reject`.
    Reject,
}

/// `threshold` is the organisation's or, failing that, the pack's.
pub fn liveness_verdict(
    settings: &OrgSettings,
    threshold: f32,
    score: Option<f32>,
) -> LivenessVerdict {
    match (settings.liveness_policy, score) {
        (LivenessPolicy::Off, _) => LivenessVerdict::Pass,
        (_, Some(s)) if s >= threshold => LivenessVerdict::Pass,
        (LivenessPolicy::Flag, _) => {
            if score.is_some() {
                LivenessVerdict::Flag
            } else {
                LivenessVerdict::Pass
            }
        }
        (LivenessPolicy::Reject, _) => LivenessVerdict::Reject,
    }
}

pub fn validate_settings(s: &OrgSettings) -> Result<(), ApiError> {
    if let Some(t) = s.match_threshold
        && !(t.is_finite() && (-1.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid(
            "settings.match_threshold must be between -1 and 1",
        ));
    }
    let fpir_ok = |f: f64| f.is_finite() && f > 0.0 && f <= 0.5;
    if !fpir_ok(s.fpir) {
        return Err(ApiError::invalid(
            "settings.fpir must be greater than 0 and at most 0.5 (e.g. 0.001: one stranger in a thousand named)",
        ));
    }
    if s.attendance_fpir.is_some_and(|f| !fpir_ok(f)) {
        return Err(ApiError::invalid(
            "settings.attendance_fpir must be greater than 0 and at most 0.5",
        ));
    }
    if !(s.ambiguity_margin.is_finite() && (0.0..=0.5).contains(&s.ambiguity_margin)) {
        return Err(ApiError::invalid(
            "settings.ambiguity_margin must be between 0 and 0.5",
        ));
    }
    if !(1..=1000).contains(&s.max_attendance_per_day) {
        return Err(ApiError::invalid(
            "settings.max_attendance_per_day must be between 1 and 1000",
        ));
    }
    if s.min_interval_seconds > 86_400 {
        return Err(ApiError::invalid(
            "settings.min_interval_seconds must be at most 86400",
        ));
    }
    if let Some(t) = s.liveness_threshold
        && !(t.is_finite() && (0.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid(
            "settings.liveness_threshold must be between 0 and 1",
        ));
    }
    if s.timezone.parse::<Tz>().is_err() {
        return Err(ApiError::invalid(format!(
            "settings.timezone {:?} is not an IANA time zone like Europe/Berlin",
            s.timezone
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(weekdays: u8, start: u32, end: u32) -> Schedule {
        Schedule {
            id: String::new(),
            org_id: String::new(),
            name: String::new(),
            person_id: None,
            device_id: None,
            weekdays,
            start_minute: start,
            end_minute: end,
            valid_from: None,
            valid_until: None,
            created_at: 0,
        }
    }

    fn at(weekday: u32, minute: u32) -> LocalTime {
        LocalTime {
            date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            weekday,
            minute,
        }
    }

    #[test]
    fn windows_and_overnight() {
        let office = sched(0b0011111, 8 * 60, 18 * 60);
        assert!(schedule_allows(&office, &at(0, 9 * 60)));
        assert!(!schedule_allows(&office, &at(0, 18 * 60)));
        assert!(!schedule_allows(&office, &at(5, 9 * 60)));
        let night = sched(0b0000001, 22 * 60, 6 * 60); // Monday 22:00 → Tuesday 06:00
        assert!(schedule_allows(&night, &at(0, 23 * 60)));
        assert!(schedule_allows(&night, &at(1, 5 * 60)));
        assert!(!schedule_allows(&night, &at(0, 5 * 60)));
        assert!(schedules_allow(&[], &at(3, 0)));
        let mut dated = sched(0b1111111, 0, 0);
        dated.valid_until = Some("2026-01-04".into());
        assert!(!schedule_allows(&dated, &at(0, 0)));
    }

    #[test]
    fn local_time_uses_zone() {
        let s = OrgSettings {
            timezone: "Asia/Tokyo".into(),
            ..OrgSettings::default()
        };
        // 2026-01-05T20:00Z is Tuesday 05:00 in Tokyo.
        let t = local_time(&s, 1_767_643_200_000);
        assert_eq!(day_string(t.date), "2026-01-06");
        assert_eq!((t.weekday, t.minute), (1, 5 * 60));
    }

    #[test]
    fn liveness_policies() {
        let mut s = OrgSettings {
            liveness_policy: LivenessPolicy::Reject,
            ..OrgSettings::default()
        };
        assert_eq!(
            liveness_verdict(&s, 0.5, Some(0.2)),
            LivenessVerdict::Reject
        );
        assert_eq!(liveness_verdict(&s, 0.5, None), LivenessVerdict::Reject);
        assert_eq!(liveness_verdict(&s, 0.5, Some(0.9)), LivenessVerdict::Pass);
        s.liveness_policy = LivenessPolicy::Flag;
        assert_eq!(liveness_verdict(&s, 0.5, Some(0.2)), LivenessVerdict::Flag);
        assert_eq!(liveness_verdict(&s, 0.5, None), LivenessVerdict::Pass);
        s.liveness_policy = LivenessPolicy::Off;
        assert_eq!(liveness_verdict(&s, 0.5, Some(0.0)), LivenessVerdict::Pass);
    }
}

//! Change windows: `DAYS HH:MM-HH:MM [ZONE]`, e.g. `Mon-Fri 09:00-16:00
//! UTC` or `Sat 10:00-12:00 Europe/Paris`.
//!
//! Days are `Mon`..`Sun` (or full names), as a list (`Mon,Wed`), a range
//! (`Mon-Fri`, `Fri-Mon` wraps) or `*` / `daily`. Times are wall-clock
//! times in the zone (default UTC), the end excluded; an end before the
//! start crosses midnight (`Fri 22:00-02:00` is open until Saturday 02:00);
//! `24:00` ends at midnight. On a day the clocks move, a window is open
//! exactly while the wall clock shows a time inside it: a window inside the
//! skipped hour does not open that day, one inside the repeated hour is
//! open twice.

use std::fmt;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// One parsed change window.
#[derive(Debug, Clone)]
pub struct Window {
    text: String,
    /// Monday first.
    days: [bool; 7],
    start: Time,
    /// `None`: midnight at the end of the day (`24:00`).
    end: Option<Time>,
    zone: TimeZone,
}

/// A window that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the change window `{text}` cannot be read: {why}")]
pub struct WindowError {
    pub text: String,
    pub why: String,
}

impl Window {
    /// Parses `DAYS HH:MM-HH:MM [ZONE]`.
    pub fn parse(text: &str) -> Result<Self, WindowError> {
        let fail = |why: &str| WindowError {
            text: text.to_owned(),
            why: why.to_owned(),
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (days, times, zone) = match parts.as_slice() {
            [days, times] => (*days, *times, None),
            [days, times, zone] => (*days, *times, Some(*zone)),
            _ => {
                return Err(fail(
                    "give `DAYS HH:MM-HH:MM [ZONE]`, e.g. `Mon-Fri 09:00-16:00 UTC`",
                ));
            }
        };
        let days = parse_days(days).map_err(|why| fail(&why))?;
        let (start, end) = times
            .split_once('-')
            .ok_or_else(|| fail("the times are `HH:MM-HH:MM`"))?;
        let start = parse_time(start)
            .and_then(|t| t.ok_or_else(|| "a window cannot start at 24:00".to_owned()))
            .map_err(|why| fail(&why))?;
        let end = parse_time(end).map_err(|why| fail(&why))?;
        if end == Some(start) {
            return Err(fail("the window starts and ends at the same time"));
        }
        let zone = match zone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                fail(&format!(
                    "`{name}` is not a known time zone (IANA names, e.g. `Europe/Paris`, or `UTC`)"
                ))
            })?,
        };
        Ok(Self {
            text: text.to_owned(),
            days,
            start,
            end,
            zone,
        })
    }

    /// Whether the window is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let local = now.to_zoned(self.zone.clone());
        let time = local.time();
        let today = self.has(local.weekday());
        match self.end {
            None => today && time >= self.start,
            Some(end) if end > self.start => today && time >= self.start && time < end,
            Some(end) => {
                let yesterday = self.has(local.weekday().wrapping_sub(1));
                (today && time >= self.start) || (yesterday && time < end)
            }
        }
    }

    /// When the window next opens after `now` (within eight days), if it is
    /// closed now.
    pub fn next_open(&self, now: Timestamp) -> Option<Zoned> {
        let local = now.to_zoned(self.zone.clone());
        let mut date: Date = local.date();
        for _ in 0..9 {
            if self.has(date.weekday()) {
                let start = DateTime::from_parts(date, self.start);
                // A start in a skipped hour opens when the clocks land after
                // it (jiff's "compatible" rule).
                if let Ok(zoned) = start.to_zoned(self.zone.clone())
                    && zoned.timestamp() > now
                {
                    return Some(zoned);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn has(&self, day: Weekday) -> bool {
        self.days[usize::from(day.to_monday_zero_offset().unsigned_abs())]
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    if text == "*" || text.eq_ignore_ascii_case("daily") {
        return Ok([true; 7]);
    }
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

fn day(text: &str) -> Result<usize, String> {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = text.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|name| lower.len() >= 3 && name.starts_with(&lower))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a day (`Mon`..`Sun`, a range `Mon-Fri`, a list `Mon,Wed`, or `*`)"
            )
        })
}

/// `HH:MM`; `None` for `24:00`.
fn parse_time(text: &str) -> Result<Option<Time>, String> {
    let bad = || format!("`{text}` is not a time `HH:MM` (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if h == 24 && m == 0 {
        return Ok(None);
    }
    Time::new(h, m, 0, 0).map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn open(window: &str, now: &str) -> bool {
        Window::parse(window).unwrap().is_open(at(now))
    }

    #[test]
    fn weekdays_in_utc() {
        // 2026-11-30 is a Monday.
        let w = "Mon-Fri 09:00-16:00 UTC";
        for (now, expected) in [
            ("2026-11-30T08:59:59Z", false),
            ("2026-11-30T09:00:00Z", true),
            ("2026-11-30T15:59:59Z", true),
            ("2026-11-30T16:00:00Z", false),
            ("2026-12-04T12:00:00Z", true),  // Friday
            ("2026-12-05T12:00:00Z", false), // Saturday
            ("2026-12-06T12:00:00Z", false), // Sunday
        ] {
            assert_eq!(open(w, now), expected, "{w} at {now}");
        }
    }

    #[test]
    fn zone_default_is_utc() {
        assert!(open("Mon 09:00-10:00", "2026-11-30T09:30:00Z"));
    }

    #[test]
    fn zone_offset_applies() {
        // Paris is UTC+1 in winter: 10:00-12:00 Paris is 09:00-11:00 UTC.
        let w = "Sat 10:00-12:00 Europe/Paris";
        assert!(!open(w, "2026-12-05T08:59:00Z"));
        assert!(open(w, "2026-12-05T09:00:00Z"));
        assert!(open(w, "2026-12-05T10:59:00Z"));
        assert!(!open(w, "2026-12-05T11:00:00Z"));
        // UTC+2 in summer.
        assert!(open(w, "2026-07-04T08:00:00Z"));
        assert!(!open(w, "2026-07-04T10:00:00Z"));
    }

    #[test]
    fn dst_spring_forward_skips_the_hour() {
        // 2026-03-29 (Sunday): Paris jumps from 02:00 to 03:00.
        let w = "Sun 02:00-03:00 Europe/Paris";
        for now in [
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-29T01:30:00Z", // 03:30 CEST
        ] {
            assert!(!open(w, now), "{now}");
        }
        // A window across the jump is open on both sides, for its real
        // length of one hour (01:30-03:30 wall clock).
        let across = "Sun 01:30-03:30 Europe/Paris";
        assert!(!open(across, "2026-03-29T00:29:00Z"));
        assert!(open(across, "2026-03-29T00:30:00Z")); // 01:30 CET
        assert!(open(across, "2026-03-29T01:29:00Z")); // 03:29 CEST
        assert!(!open(across, "2026-03-29T01:30:00Z")); // 03:30 CEST
    }

    #[test]
    fn dst_fall_back_repeats_the_hour() {
        // 2026-10-25 (Sunday): Paris goes from 03:00 CEST back to 02:00 CET.
        let w = "Sun 02:00-03:00 Europe/Paris";
        assert!(!open(w, "2026-10-24T23:59:00Z")); // 01:59 CEST
        assert!(open(w, "2026-10-25T00:00:00Z")); // 02:00 CEST
        assert!(open(w, "2026-10-25T00:59:00Z")); // 02:59 CEST
        assert!(open(w, "2026-10-25T01:00:00Z")); // 02:00 CET
        assert!(open(w, "2026-10-25T01:59:00Z")); // 02:59 CET
        assert!(!open(w, "2026-10-25T02:00:00Z")); // 03:00 CET
    }

    #[test]
    fn overnight_windows() {
        let w = "Fri 22:00-02:00 UTC";
        assert!(!open(w, "2026-12-04T21:59:00Z")); // Friday
        assert!(open(w, "2026-12-04T22:00:00Z"));
        assert!(open(w, "2026-12-05T01:59:00Z")); // Saturday morning
        assert!(!open(w, "2026-12-05T02:00:00Z"));
        assert!(!open(w, "2026-12-05T23:00:00Z")); // Saturday night
        assert!(!open(w, "2026-12-04T01:00:00Z")); // Friday morning
    }

    #[test]
    fn until_midnight_and_day_lists() {
        assert!(open("Mon,Wed 20:00-24:00", "2026-12-02T23:59:59Z"));
        assert!(!open("Mon,Wed 20:00-24:00", "2026-12-01T23:00:00Z")); // Tuesday
        assert!(open("Fri-Mon 00:00-24:00", "2026-12-06T12:00:00Z")); // Sunday
        assert!(!open("Fri-Mon 00:00-24:00", "2026-12-02T12:00:00Z")); // Wednesday
        assert!(open("* 00:00-24:00", "2026-12-02T12:00:00Z"));
        assert!(open("monday 09:00-10:00", "2026-11-30T09:00:00Z"));
    }

    #[test]
    fn next_opening() {
        let w = Window::parse("Mon-Fri 09:00-16:00 Europe/Paris").unwrap();
        // Saturday noon UTC: next is Monday 09:00 Paris.
        let next = w.next_open(at("2026-12-05T12:00:00Z")).unwrap();
        assert_eq!(next.timestamp(), at("2026-12-07T08:00:00Z"));
        // Monday 08:00 Paris: today 09:00.
        let next = w.next_open(at("2026-11-30T07:00:00Z")).unwrap();
        assert_eq!(next.timestamp(), at("2026-11-30T08:00:00Z"));
    }

    #[test]
    fn errors() {
        for (text, expected) in [
            ("Mon-Fri", "give `DAYS HH:MM-HH:MM [ZONE]`"),
            ("Mun 09:00-10:00", "`Mun` is not a day"),
            ("Mon 9-10", "`9` is not a time"),
            ("Mon 09:00-25:00", "`25:00` is not a time"),
            ("Mon 24:00-10:00", "cannot start at 24:00"),
            ("Mon 09:00-09:00", "starts and ends at the same time"),
            (
                "Mon 09:00-10:00 Mars/Olympus",
                "`Mars/Olympus` is not a known time zone",
            ),
            ("Mon 09:00-10:00 UTC extra", "give `DAYS"),
        ] {
            let error = Window::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}

//! `Date` (RFC 3261 §20.17): when a request or response was first sent.
//!
//! Only the `rfc1123-date` form is allowed, always in GMT:
//! `Sat, 13 Nov 2010 23:29:00 GMT` (§25.1). The literals (weekday, month, `GMT`) are ABNF
//! strings and so match case-insensitively (RFC 5234 §2.3); [`Header::write`] produces the
//! canonical spelling. Any other zone (`EST`, `+0100`) is an error, as RFC 4475 §3.1.2.12
//! (`baddate.dat`) expects; so are impossible dates and a weekday that does not match the
//! date, because such a value carries no single meaning. The value is held as seconds since
//! the Unix epoch, so dates compare and sort as instants; callcomp gets the current time as
//! an input and turns it into a `Date` with [`Date::from_unix_seconds`].

use std::fmt;

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SECONDS_PER_DAY: i64 = 86_400;

/// A `Date` value: an instant with one-second precision, in years 0000 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    unix: i64,
}

impl Date {
    /// The earliest representable instant, `0000-01-01 00:00:00`.
    pub const MIN_UNIX_SECONDS: i64 = -62_167_219_200;
    /// The latest representable instant, `9999-12-31 23:59:59` (the year has 4 digits).
    pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

    /// The date at `secs` seconds after 1970-01-01 00:00:00 GMT; `None` when the year
    /// would fall outside 0000 to 9999.
    pub fn from_unix_seconds(secs: i64) -> Option<Date> {
        (Date::MIN_UNIX_SECONDS..=Date::MAX_UNIX_SECONDS)
            .contains(&secs)
            .then_some(Date { unix: secs })
    }

    /// Seconds since 1970-01-01 00:00:00 GMT (negative before).
    pub fn unix_seconds(&self) -> i64 {
        self.unix
    }

    /// The year, 0 to 9999.
    pub fn year(&self) -> u16 {
        self.civil().0
    }

    /// The month, 1 (January) to 12.
    pub fn month(&self) -> u8 {
        self.civil().1
    }

    /// The day of the month, 1 to 31.
    pub fn day(&self) -> u8 {
        self.civil().2
    }

    /// The day of the week, 0 (Sunday) to 6 (Saturday).
    pub fn weekday(&self) -> u8 {
        weekday(self.unix.div_euclid(SECONDS_PER_DAY))
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        small(self.unix.rem_euclid(SECONDS_PER_DAY) / 3600)
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        small(self.unix.rem_euclid(3600) / 60)
    }

    /// The second, 0 to 59.
    pub fn second(&self) -> u8 {
        small(self.unix.rem_euclid(60))
    }

    fn civil(&self) -> (u16, u8, u8) {
        civil_from_days(self.unix.div_euclid(SECONDS_PER_DAY))
    }
}

impl Header for Date {
    const NAME: HeaderName = HeaderName::Date;

    fn parse(value: &str) -> Result<Date, HeaderError> {
        const LAYOUT: HeaderError =
            HeaderError::Syntax("Date must look like `Sat, 13 Nov 2010 23:29:00 GMT`");
        let value = crate::text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (head, zone) = value.rsplit_once(' ').ok_or(LAYOUT)?;
        if !zone.eq_ignore_ascii_case("GMT") {
            return Err(HeaderError::Syntax("Date must be in GMT (RFC 3261 §20.17)"));
        }
        let b = head.as_bytes();
        if b.len() != 25
            || &b[3..5] != b", "
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
        {
            return Err(LAYOUT);
        }
        let wkday = lookup(&WEEKDAYS, &b[0..3]).ok_or(LAYOUT)?;
        let month = lookup(&MONTHS, &b[8..11]).ok_or(LAYOUT)?;
        let day = digits(&b[5..7]).ok_or(LAYOUT)?;
        let year = digits(&b[12..16]).ok_or(LAYOUT)?;
        let (hour, minute, second) = (
            digits(&b[17..19]).ok_or(LAYOUT)?,
            digits(&b[20..22]).ok_or(LAYOUT)?,
            digits(&b[23..25]).ok_or(LAYOUT)?,
        );
        if day == 0 || day > days_in_month(year, month + 1) {
            return Err(HeaderError::Syntax("Date names a day that does not exist"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(HeaderError::Syntax("Date has a time out of range"));
        }
        let days = days_from_civil(year, month + 1, day);
        if i64::from(weekday(days)) != wkday {
            return Err(HeaderError::Syntax("Date weekday does not match the date"));
        }
        Ok(Date {
            unix: days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second,
        })
    }

    fn write(&self, out: &mut String) {
        let (year, month, day) = self.civil();
        let wkday = WEEKDAYS.get(usize::from(self.weekday())).unwrap_or(&"Sun");
        let month = MONTHS
            .get(usize::from(month).saturating_sub(1))
            .unwrap_or(&"Jan");
        out.push_str(&format!(
            "{wkday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} GMT",
            self.hour(),
            self.minute(),
            self.second()
        ));
    }
}

impl fmt::Display for Date {
    /// The canonical `rfc1123-date` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_value())
    }
}

/// Index of the name matching `b`, ignoring case.
fn lookup(names: &[&str], b: &[u8]) -> Option<i64> {
    names
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(b))
        .and_then(|i| i64::try_from(i).ok())
}

/// A fixed number of ASCII digits as a number.
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Narrows a value already known to be below 256.
fn small(n: i64) -> u8 {
    u8::try_from(n).unwrap_or(0)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date. Counts in 400-year eras starting
/// on 1 March, so the leap day falls at the end of each counted year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (u16::try_from(year).unwrap_or(0), small(month), small(day))
}

/// Day of the week (0 = Sunday) of a day counted from 1970-01-01, a Thursday.
fn weekday(days: i64) -> u8 {
    small((days + 4).rem_euclid(7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn good_values() {
        let rows = [
            (
                "Sat, 13 Nov 2010 23:29:00 GMT",
                1_289_690_940,
                "Sat, 13 Nov 2010 23:29:00 GMT",
            ),
            (
                "Tue, 15 Nov 1994 08:12:31 GMT",
                784_887_151,
                "Tue, 15 Nov 1994 08:12:31 GMT",
            ),
            (
                "  tue, 29 FEB 2000 00:00:00 gmt ",
                951_782_400,
                "Tue, 29 Feb 2000 00:00:00 GMT",
            ),
            (
                "Thu, 01 Jan 1970 00:00:00 GMT",
                0,
                "Thu, 01 Jan 1970 00:00:00 GMT",
            ),
            (
                "Wed, 31 Dec 1969 23:59:59 GMT",
                -1,
                "Wed, 31 Dec 1969 23:59:59 GMT",
            ),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                Date::MAX_UNIX_SECONDS,
                "Fri, 31 Dec 9999 23:59:59 GMT",
            ),
            (
                "Mon, 01 Jan 0001 00:00:00 GMT",
                -62_135_596_800,
                "Mon, 01 Jan 0001 00:00:00 GMT",
            ),
        ];
        for (input, unix, wire) in rows {
            let d = Date::parse(input).unwrap();
            assert_eq!(d.unix_seconds(), unix, "{input:?}");
            assert_eq!(d.to_value(), wire);
            assert_eq!(Date::from_unix_seconds(unix), Some(d));
        }
        let d = Date::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!(
            (
                d.year(),
                d.month(),
                d.day(),
                d.weekday(),
                d.hour(),
                d.minute(),
                d.second()
            ),
            (2010, 11, 13, 6, 23, 29, 0)
        );
    }

    #[test]
    fn bad_values() {
        let layout = HeaderError::Syntax("Date must look like `Sat, 13 Nov 2010 23:29:00 GMT`");
        let zone = HeaderError::Syntax("Date must be in GMT (RFC 3261 §20.17)");
        let no_day = HeaderError::Syntax("Date names a day that does not exist");
        let time = HeaderError::Syntax("Date has a time out of range");
        let weekday = HeaderError::Syntax("Date weekday does not match the date");
        let rows = [
            ("", HeaderError::Empty),
            // RFC 4475 §3.1.2.12 (baddate.dat).
            ("Fri, 01 Jan 2010 16:00:00 EST", zone.clone()),
            ("Fri, 01 Jan 2010 16:00:00 +0000", zone.clone()),
            ("Fri, 01 Jan 2010 16:00:00 UTC", zone.clone()),
            ("Fri, 01 Jan 2010 16:00:00", zone),
            ("GMT", layout.clone()),
            ("Fri,  1 Jan 2010 16:00:00 GMT", layout.clone()),
            ("Fri, 1 Jan 2010 16:00:00 GMT", layout.clone()),
            ("Friday, 01 Jan 2010 16:00:00 GMT", layout.clone()),
            ("Fri 01 Jan 2010 16:00:00 GMT", layout.clone()),
            ("Fri, 01 Jan 10 16:00:00 GMT", layout.clone()),
            ("Fri, 01 Jax 2010 16:00:00 GMT", layout.clone()),
            ("Fri, 01 Jan 2010 16.00.00 GMT", layout.clone()),
            ("Fri, 01 Jan 2010 16:0a:00 GMT", layout.clone()),
            ("Fri, 01 Jan 2010 16:00:00  GMT", layout.clone()),
            ("Fri, 01 Jan 2010 16:00:0\u{e9} GMT", layout.clone()),
            ("Fri, 01 Jan 201\u{e9}16:00:00 GMT", layout),
            ("Tue, 29 Feb 2011 00:00:00 GMT", no_day.clone()),
            ("Thu, 29 Feb 1900 00:00:00 GMT", no_day.clone()),
            ("Fri, 00 Jan 2010 16:00:00 GMT", no_day.clone()),
            ("Fri, 31 Apr 2010 16:00:00 GMT", no_day),
            ("Fri, 01 Jan 2010 24:00:00 GMT", time.clone()),
            ("Fri, 01 Jan 2010 16:60:00 GMT", time.clone()),
            ("Fri, 01 Jan 2010 16:00:60 GMT", time),
            ("Sat, 01 Jan 2010 16:00:00 GMT", weekday),
        ];
        for (input, err) in rows {
            assert_eq!(Date::parse(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn out_of_range_instants_have_no_date() {
        assert_eq!(Date::from_unix_seconds(Date::MAX_UNIX_SECONDS + 1), None);
        assert_eq!(Date::from_unix_seconds(Date::MIN_UNIX_SECONDS - 1), None);
        assert_eq!(Date::from_unix_seconds(i64::MAX), None);
        let first = Date::from_unix_seconds(Date::MIN_UNIX_SECONDS).unwrap();
        assert_eq!(first.to_value(), "Sat, 01 Jan 0000 00:00:00 GMT");
        assert_eq!(Date::parse(&first.to_value()), Ok(first));
    }

    proptest! {
        #[test]
        fn round_trip(secs in Date::MIN_UNIX_SECONDS..=Date::MAX_UNIX_SECONDS) {
            let d = Date::from_unix_seconds(secs).unwrap();
            let wire = d.to_value();
            prop_assert_eq!(wire.len(), 29);
            prop_assert_eq!(Date::parse(&wire), Ok(d));
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            let _ = Date::parse(&input);
        }
    }
}

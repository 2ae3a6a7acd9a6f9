//! The Vietnamese lunar calendar (âm lịch), for rules on Tết, Rằm, Vu Lan, Trung thu…
//!
//! The calendar is astronomical: a month starts on the local day of a new moon, month 11 holds
//! the winter solstice, and in a year of 13 months the first month without a major solar term
//! is the leap month. Everything is evaluated in UTC+7 (Vietnam); the Chinese calendar uses
//! UTC+8 and differs in some years (Tết 1985, 2007, 2030), so Chinese libraries do not do.
//!
//! The new-moon and solar-longitude series are the low-precision formulas from Jean Meeus,
//! *Astronomical Algorithms*, as used by Hồ Ngọc Đức's description of the Vietnamese calendar;
//! this is our own implementation of that description.

use std::f64::consts::PI;

use jiff::civil::Date;

/// Vietnam's offset from UTC in hours, which fixes the calendar.
const TIME_ZONE: f64 = 7.0;
/// Mean length of a lunation in days.
const SYNODIC_MONTH: f64 = 29.530588853;
/// Julian day of the new moon of 1900-01-01, the origin of the lunation count.
const EPOCH_NEW_MOON: f64 = 2415021.076998695;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LunarDate {
    pub day: u8,
    pub month: u8,
    pub year: i32,
    /// True in a leap month (tháng nhuận), which repeats the number of the month before.
    pub leap: bool,
}

/// The Julian day number of a Gregorian date.
fn julian_day(date: Date) -> i64 {
    let (day, month, year) = (
        i64::from(date.day()),
        i64::from(date.month()),
        i64::from(date.year()),
    );
    let a = (14 - month) / 12;
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
}

/// The instant (Julian day, UT) of the `k`-th new moon after 1900-01-01.
fn new_moon(k: f64) -> f64 {
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let dr = PI / 180.0;
    let mut jd = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3;
    jd += 0.00033 * ((166.56 + 132.87 * t - 0.009173 * t2) * dr).sin();
    let m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3; // sun's anomaly
    let mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3; // moon's anomaly
    let f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3; // moon's latitude
    let mut c = (0.1734 - 0.000393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c += -0.4068 * (mpr * dr).sin() + 0.0161 * (2.0 * dr * mpr).sin();
    c += -0.0004 * (3.0 * dr * mpr).sin();
    c += 0.0104 * (2.0 * dr * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c += -0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c += -0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c += 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    let delta_t = if t < -11.0 {
        0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    } else {
        -0.000278 + 0.000265 * t + 0.000262 * t2
    };
    jd + c - delta_t
}

/// The sun's apparent longitude in radians, normalised to [0, 2π), at Julian day `jd`.
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd - 2451545.0) / 36525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2;
    let l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2;
    let dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * (dr * m).sin()
        + (0.019993 - 0.000101 * t) * (dr * 2.0 * m).sin()
        + 0.000290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// The local day (Julian day number) of the `k`-th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k as f64) + 0.5 + TIME_ZONE / 24.0).floor() as i64
}

/// Which of the 12 major solar terms (30° sectors) the sun is in at the start of a local day.
fn solar_sector(day: i64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - TIME_ZONE / 24.0) / PI * 6.0).floor() as i64
}

/// The first day of lunar month 11 (the month of the winter solstice) of Gregorian `year`.
fn month_11_start(year: i16) -> i64 {
    let last_day = julian_day(Date::new(year, 12, 31).unwrap_or(Date::MAX));
    let k = ((last_day as f64 - EPOCH_NEW_MOON) / SYNODIC_MONTH).floor() as i64;
    let start = new_moon_day(k);
    // The sun past 270° means this new moon is after the solstice: take the one before.
    if solar_sector(start) >= 9 {
        new_moon_day(k - 1)
    } else {
        start
    }
}

/// In a 13-month year starting at month 11 on `a11`, the index of the leap month: the first
/// month in which the sun enters no new major term.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - EPOCH_NEW_MOON) / SYNODIC_MONTH + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = solar_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = solar_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            return i - 1;
        }
    }
}

/// The Vietnamese lunar date of a Gregorian date.
pub fn to_lunar(date: Date) -> LunarDate {
    let day_number = julian_day(date);
    let k = ((day_number as f64 - EPOCH_NEW_MOON) / SYNODIC_MONTH).floor() as i64;
    let mut month_start = new_moon_day(k + 1);
    if month_start > day_number {
        month_start = new_moon_day(k);
    }
    let year = date.year();
    let (mut lunar_year, a11, b11) = {
        let a11 = month_11_start(year);
        if a11 >= month_start {
            (i32::from(year), month_11_start(year - 1), a11)
        } else {
            (i32::from(year) + 1, a11, month_11_start(year + 1))
        }
    };
    let day = (day_number - month_start + 1) as u8;
    let diff = (month_start - a11) / 29;
    let mut leap = false;
    let mut month = diff + 11;
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11);
        if diff >= leap_diff {
            month = diff + 10;
            leap = diff == leap_diff;
        }
    }
    if month > 12 {
        month -= 12;
    }
    if month >= 11 && diff < 4 {
        lunar_year -= 1;
    }
    LunarDate {
        day,
        month: month as u8,
        year: lunar_year,
        leap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn tet(year: i16) -> Date {
        // Tết is the first day of month 1: search the Gregorian window it always falls in.
        let mut d = date(year, 1, 19);
        while to_lunar(d)
            != (LunarDate {
                day: 1,
                month: 1,
                year: i32::from(year),
                leap: false,
            })
        {
            d = d.tomorrow().unwrap();
            assert!(d < date(year, 2, 22), "no Tết found in {year}");
        }
        d
    }

    #[test]
    fn tet_falls_on_the_known_vietnamese_dates() {
        assert_eq!(tet(2024), date(2024, 2, 10));
        assert_eq!(tet(2025), date(2025, 1, 29));
        assert_eq!(tet(2026), date(2026, 2, 17));
        assert_eq!(tet(2023), date(2023, 1, 22));
        assert_eq!(tet(2027), date(2027, 2, 6));
    }

    #[test]
    fn vietnam_differs_from_china_where_the_time_zone_matters() {
        // China (UTC+8) celebrated on 1985-02-20, 2007-02-18 and will on 2030-02-03.
        assert_eq!(tet(1985), date(1985, 1, 21));
        assert_eq!(tet(2007), date(2007, 2, 17));
        assert_eq!(tet(2030), date(2030, 2, 2));
    }

    #[test]
    fn the_day_before_tet_is_the_last_day_of_the_twelfth_month() {
        let eve = to_lunar(date(2026, 2, 16));
        assert_eq!((eve.month, eve.year), (12, 2025));
        assert!(eve.day == 29 || eve.day == 30);
        assert_eq!(
            to_lunar(date(2024, 2, 10)),
            LunarDate {
                day: 1,
                month: 1,
                year: 2024,
                leap: false
            }
        );
    }

    #[test]
    fn leap_months_are_marked() {
        // 2025 has a leap sixth month: 1/6-nhuận is 2025-07-25, 1/7 is 2025-08-23.
        assert_eq!(
            to_lunar(date(2025, 7, 25)),
            LunarDate {
                day: 1,
                month: 6,
                year: 2025,
                leap: true
            }
        );
        assert_eq!(
            to_lunar(date(2025, 8, 23)),
            LunarDate {
                day: 1,
                month: 7,
                year: 2025,
                leap: false
            }
        );
        assert_eq!(
            to_lunar(date(2025, 6, 25)),
            LunarDate {
                day: 1,
                month: 6,
                year: 2025,
                leap: false
            }
        );
    }

    #[test]
    fn mid_autumn_2026_is_the_fifteenth_of_the_eighth_month() {
        // Trung thu 2026: 25 September.
        assert_eq!(
            to_lunar(date(2026, 9, 25)),
            LunarDate {
                day: 15,
                month: 8,
                year: 2026,
                leap: false
            }
        );
    }
}

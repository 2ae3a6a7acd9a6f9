//! A seeded, deterministic generator of customers and their orders. The same seed gives the same
//! people and the same year of orders on every machine, so benchmarks and demos are repeatable.
//!
//! The shape follows what chains see: most customers buy once or twice, a long tail buys every
//! week; weekends are busier, and the two weeks before Tết busier still.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use loyalty_core::phone::MOBILE_PREFIXES;
use loyalty_core::text::fold;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::words::{
    BRANDS, BrandData, EMAIL_DOMAINS, FAMILY_NAMES, GIVEN_NAMES_FEMALE, GIVEN_NAMES_MALE,
    MIDDLE_NAMES_FEMALE, MIDDLE_NAMES_MALE, PROVINCES, Product, TAGS,
};

/// One generated customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Domestic form, `0xxxxxxxxx`, unique per index.
    pub phone: String,
    pub email: Option<String>,
    pub name: String,
    pub female: bool,
    /// `YYYY-MM-DD`, or `--MM-DD` when the customer did not give the year.
    pub birthday: Option<String>,
    pub province: String,
    pub district: String,
    pub tags: Vec<String>,
    pub consent_sms: bool,
    pub consent_email: bool,
    pub consent_zalo: bool,
    /// The brand this customer mostly buys from (index into [`BRANDS`]).
    pub brand: usize,
}

/// One generated order line.
#[derive(Debug, Clone, PartialEq)]
pub struct GenLine {
    pub product: &'static Product,
    pub quantity: i64,
}

/// One generated order.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOrder {
    pub brand: &'static BrandData,
    pub store: &'static str,
    pub placed_at: Timestamp,
    pub lines: Vec<GenLine>,
}

impl GenOrder {
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.product.price * l.quantity)
            .sum()
    }
}

pub struct Generator {
    rng: ChaCha8Rng,
}

/// Tết (lunar new year) in the years a generated history may cover.
const TET: &[(i16, i8, i8)] = &[
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
];

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, weight) in items {
        if pick < *weight {
            return item;
        }
        pick -= weight;
    }
    &items[items.len() - 1].0
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A unique mobile number for customer `index`: the seven subscriber digits are a bijection
    /// of the index (so no two customers share a number), the prefix is weighted by carrier.
    pub fn phone(&mut self, index: usize) -> String {
        // 7_919_993 is coprime with 10^7, so this permutes 0..10^7.
        let digits = (index as u64 % 10_000_000) * 7_919_993 % 10_000_000;
        let (prefix, _) = MOBILE_PREFIXES[self.rng.random_range(0..MOBILE_PREFIXES.len())];
        format!("{prefix}{digits:07}")
    }

    pub fn person(&mut self, index: usize) -> Person {
        let rng = &mut self.rng;
        let female = rng.random_bool(0.56);
        let family = weighted(rng, FAMILY_NAMES);
        let (middle, given) = if female {
            (
                pick(rng, MIDDLE_NAMES_FEMALE),
                pick(rng, GIVEN_NAMES_FEMALE),
            )
        } else {
            (pick(rng, MIDDLE_NAMES_MALE), pick(rng, GIVEN_NAMES_MALE))
        };
        let name = format!("{family} {middle} {given}");
        let email = rng.random_bool(0.6).then(|| {
            let local = fold(&format!("{given}{family}")).replace(' ', "");
            let domain = weighted(rng, EMAIL_DOMAINS);
            format!("{local}.{index}@{domain}")
        });
        let birthday = rng.random_bool(0.8).then(|| {
            let month = rng.random_range(1..=12i8);
            let day = rng.random_range(1..=28i8);
            if rng.random_bool(0.2) {
                format!("--{month:02}-{day:02}")
            } else {
                // Mostly 20 to 40 years old.
                let year = 1986 + rng.random_range(0..20) - rng.random_range(0..10);
                format!("{year}-{month:02}-{day:02}")
            }
        });
        let weights: Vec<(usize, u32)> = PROVINCES
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.2))
            .collect();
        let province = *weighted(rng, &weights);
        let (province_name, districts, _) = PROVINCES[province];
        let district = pick(rng, districts).to_string();
        let tags = TAGS
            .iter()
            .filter(|(_, per_mille)| rng.random_range(0..1000) < *per_mille)
            .map(|(tag, _)| tag.to_string())
            .collect();
        let brand = if rng.random_bool(0.75) { 0 } else { 1 };
        let phone = self.phone(index);
        let rng = &mut self.rng;
        Person {
            phone,
            email,
            name,
            female,
            birthday,
            province: province_name.to_string(),
            district,
            tags,
            consent_sms: rng.random_bool(0.7),
            consent_email: rng.random_bool(0.5),
            consent_zalo: rng.random_bool(0.6),
            brand,
        }
    }

    /// How many orders a customer places in a year: most once or twice, a tail every week.
    pub fn order_count(&mut self) -> usize {
        let rng = &mut self.rng;
        match rng.random_range(0..100) {
            0..45 => 1,
            45..67 => 2,
            67..82 => rng.random_range(3..=5),
            82..93 => rng.random_range(6..=20),
            _ => rng.random_range(30..=60),
        }
    }

    /// The customer's orders over the `days` days before `end`, in time order.
    pub fn orders(
        &mut self,
        person: &Person,
        end: Timestamp,
        days: i64,
        zone: &TimeZone,
    ) -> Vec<GenOrder> {
        let count = self.order_count();
        let end_date = end.to_zoned_datetime(zone.clone()).date();
        let mut orders: Vec<GenOrder> = (0..count)
            .map(|_| {
                // Now and then a customer tries the other brand.
                let brand_index = if self.rng.random_bool(0.9) {
                    person.brand
                } else {
                    1 - person.brand
                };
                self.order(&BRANDS[brand_index], end_date, days, zone)
            })
            .filter(|o| o.placed_at < end)
            .collect();
        orders.sort_by_key(|o| o.placed_at);
        orders
    }

    fn order(
        &mut self,
        brand: &'static BrandData,
        end: Date,
        days: i64,
        zone: &TimeZone,
    ) -> GenOrder {
        let date = self.busy_day(end, days);
        let rng = &mut self.rng;
        // F&B peaks at breakfast and mid-afternoon; fashion in the evening.
        let hour = if brand.max_lines > 2 {
            *weighted(
                rng,
                &[
                    (7, 12),
                    (8, 14),
                    (9, 8),
                    (10, 6),
                    (11, 5),
                    (12, 5),
                    (13, 6),
                    (14, 9),
                    (15, 10),
                    (16, 7),
                    (17, 5),
                    (18, 5),
                    (19, 5),
                    (20, 3),
                ],
            )
        } else {
            *weighted(
                rng,
                &[
                    (10, 5),
                    (11, 6),
                    (12, 6),
                    (13, 5),
                    (14, 6),
                    (15, 7),
                    (16, 8),
                    (17, 9),
                    (18, 10),
                    (19, 12),
                    (20, 12),
                    (21, 8),
                ],
            )
        };
        let minute = rng.random_range(0..60i8);
        let second = rng.random_range(0..60i8);
        let placed_at = date
            .at(hour, minute, second, 0)
            .to_zoned_datetime(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let store = pick(rng, brand.stores).0;
        let lines = (0..rng.random_range(1..=brand.max_lines))
            .map(|_| GenLine {
                product: pick(rng, brand.products),
                quantity: if rng.random_bool(0.8) { 1 } else { 2 },
            })
            .collect();
        GenOrder {
            brand,
            store,
            placed_at,
            lines,
        }
    }

    /// A day among the last `days` before `end`, drawn with weekend and Tết peaks.
    fn busy_day(&mut self, end: Date, days: i64) -> Date {
        loop {
            let back = self.rng.random_range(1..=days.max(1));
            let Ok(day) = end.checked_sub(Span::new().days(back)) else {
                continue;
            };
            let mut weight = 10;
            if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                weight = 16;
            }
            for &(year, month, d) in TET {
                if let Ok(tet) = Date::new(year, month, d) {
                    let before = tet.since(day).map(|s| s.get_days()).unwrap_or(i32::MAX);
                    if (1..=14).contains(&before) {
                        weight = 25;
                    }
                    if before == 0 || before == -1 || before == -2 {
                        weight = 3; // shops close for the first days of Tết
                    }
                }
            }
            if self.rng.random_range(0..25) < weight {
                return day;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyalty_core::phone::Phone;

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let (mut a, mut b) = (Generator::new(42), Generator::new(42));
        for i in 0..50 {
            assert_eq!(a.person(i), b.person(i));
        }
        assert_ne!(Generator::new(1).person(0), Generator::new(2).person(0));
    }

    #[test]
    fn people_have_valid_unique_phones_and_vietnamese_names() {
        let mut g = Generator::new(7);
        let mut phones = std::collections::HashSet::new();
        for i in 0..5_000 {
            let p = g.person(i);
            let phone = Phone::parse(&p.phone).expect("a valid mobile number");
            assert!(
                phones.insert(phone.as_str().to_string()),
                "phone {} repeats",
                p.phone
            );
            assert_eq!(p.name.split(' ').count(), 3);
            if let Some(email) = &p.email {
                loyalty_core::email::Email::parse(email).expect("a valid e-mail");
            }
            if let Some(b) = &p.birthday {
                loyalty_core::birthday::Birthday::parse(b, jiff::civil::date(2026, 11, 25))
                    .expect("a valid birthday");
            }
            assert!(
                loyalty_core::geo::province_code(&p.province).is_some(),
                "{}",
                p.province
            );
        }
    }

    #[test]
    fn a_year_of_orders_is_mostly_one_or_two_per_customer_with_a_weekly_tail() {
        let mut g = Generator::new(3);
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let end: Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
        let counts: Vec<usize> = (0..2_000)
            .map(|i| {
                let p = g.person(i);
                let orders = g.orders(&p, end, 365, &zone);
                assert!(orders.windows(2).all(|w| w[0].placed_at <= w[1].placed_at));
                assert!(orders.iter().all(|o| o.total() > 0 && o.placed_at < end));
                orders.len()
            })
            .collect();
        let once_or_twice = counts.iter().filter(|&&c| c <= 2).count();
        let weekly = counts.iter().filter(|&&c| c >= 30).count();
        assert!(
            once_or_twice > 1_100 && once_or_twice < 1_500,
            "{once_or_twice}"
        );
        assert!(weekly > 80 && weekly < 220, "{weekly}");
    }
}

//! The book driven as production drives it: load from a store, decide, persist the writes,
//! with random sequences of orders, spends, adjustments, cancels, refunds and time passing.
//! The store here is a few vectors; the invariants are those `loyalty verify` checks.

use std::collections::HashMap;

use jiff::SignedDuration;
use proptest::prelude::*;

use super::*;
use crate::ledger::{allocate_spend, expiry_order};

fn t(hours: i64) -> Timestamp {
    Timestamp::UNIX_EPOCH + SignedDuration::from_hours(hours)
}

/// What the database holds for one member.
#[derive(Debug, Default)]
struct Store {
    stored: Stored,
    entries: Vec<NewEntry>,
    /// Every lot ever credited, by id, with its remaining points.
    lots: Vec<Lot>,
    takes: HashMap<String, Vec<(String, i64)>>,
    orders: Vec<OrderPoints>,
    /// Each order's redemption entry, for giving its points back.
    redemptions: HashMap<String, String>,
}

impl Store {
    /// A book as `app` opens one: the stored balances, and the live lots when asked.
    fn open(&self, now: Timestamp, with_lots: bool) -> Book {
        let mut book = Book::new(self.stored, now);
        if with_lots || book.is_due() {
            book.load_lots(
                self.lots
                    .iter()
                    .filter(|l| l.remaining > 0)
                    .cloned()
                    .collect(),
            );
        }
        book
    }

    /// What an order's redemption took, with those lots loaded into the book.
    fn spent_from(&self, book: &mut Book, order: &OrderPoints) -> Vec<(String, i64)> {
        let taken = self
            .redemptions
            .get(order.id.as_str())
            .and_then(|entry| self.takes.get(entry))
            .cloned()
            .unwrap_or_default();
        let ids: Vec<&String> = taken.iter().map(|(id, _)| id).collect();
        book.load_lots(
            self.lots
                .iter()
                .filter(|l| ids.contains(&&l.id))
                .cloned()
                .collect(),
        );
        taken
    }

    /// Persists the book's writes and balances, as `app` does in the same transaction.
    fn save(&mut self, book: &mut Book) {
        for write in book.take_writes() {
            match write {
                Write::Entry(entry) => {
                    if let Some(remaining) = entry.remaining.filter(|r| *r > 0) {
                        self.lots.push(Lot {
                            id: entry.id.clone(),
                            order_id: entry.order_id.as_ref().map(ToString::to_string),
                            remaining,
                            created_at: entry.created_at,
                            available_at: entry.available_at.unwrap_or(entry.created_at),
                            expires_at: entry.expires_at,
                        });
                    }
                    self.entries.push(entry);
                }
                Write::Remaining { lot_id, delta } => {
                    let lot = self
                        .lots
                        .iter_mut()
                        .find(|l| l.id == lot_id)
                        .expect("known lot");
                    lot.remaining += delta;
                }
                Write::Takes { entry_id, takes } => {
                    self.takes.insert(entry_id, takes);
                }
            }
        }
        self.stored = book.stored();
    }

    fn check(&self, now: Timestamp) -> Result<(), String> {
        let sum: i64 = self.entries.iter().map(|e| e.points).sum();
        let remaining: i64 = self.lots.iter().map(|l| l.remaining).sum();
        if sum != remaining - self.stored.debt {
            return Err(format!(
                "entries sum {sum} != remaining {remaining} - debt {}",
                self.stored.debt
            ));
        }
        if let Some(lot) = self.lots.iter().find(|l| l.remaining < 0) {
            return Err(format!("lot {} is negative", lot.id));
        }
        if self.stored.debt < 0 {
            return Err("debt is negative".into());
        }
        if !self.open(now, false).is_due() {
            let b = ledger::balances(&self.lots, now);
            if (b.available, b.pending) != (self.stored.available, self.stored.pending) {
                return Err(format!("stored {:?}, lots say {b:?}", self.stored));
            }
        }
        for o in &self.orders {
            if o.reversed > o.earned {
                return Err(format!(
                    "{} reversed {} of {} earned",
                    o.id, o.reversed, o.earned
                ));
            }
            if (o.cancelled || o.refunded == o.total) && o.reversed != o.earned {
                return Err(format!(
                    "{} fully reversed only {} of {}",
                    o.id, o.reversed, o.earned
                ));
            }
            if o.returned > o.redeemed {
                return Err(format!(
                    "{} returned {} of {} redeemed",
                    o.id, o.returned, o.redeemed
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Op {
    Earn {
        total: i64,
        redeem: i64,
        points: i64,
        pending_hours: i64,
        expires_in: Option<i64>,
    },
    Spend(i64),
    Adjust(i64),
    Cancel(usize),
    Refund(usize, i64),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..2_000_000, prop_oneof![3 => Just(0i64), 1 => 1i64..300], 0i64..500, 0i64..72, proptest::option::of(-48i64..500))
            .prop_map(|(total, redeem, points, pending_hours, expires_in)| Op::Earn { total, redeem, points, pending_hours, expires_in }),
        2 => (1i64..400).prop_map(Op::Spend),
        1 => (-200i64..200).prop_map(Op::Adjust),
        1 => (0usize..20).prop_map(Op::Cancel),
        2 => (0usize..20, 1i64..1_000_000).prop_map(|(o, a)| Op::Refund(o, a)),
        2 => (1i64..200).prop_map(Op::Advance),
    ]
}

/// Runs one operation as `app` does: a refused one writes nothing.
fn apply(store: &mut Store, op: Op, now: Timestamp) -> Result<(), LedgerError> {
    match op {
        Op::Earn {
            total,
            redeem,
            points,
            pending_hours,
            expires_in,
        } => {
            let mut book = store.open(now, redeem > 0);
            book.catch_up()?;
            let id = format!("order{}", store.orders.len() + 1);
            let mut redemption = None;
            if redeem > 0 {
                redemption = Some(book.spend(EntryKind::Redeem, redeem, Some(&id), None)?);
            }
            if points > 0 {
                book.credit(Credit {
                    kind: EntryKind::Earn,
                    points,
                    order_id: Some(&id),
                    reason: None,
                    available_at: now + SignedDuration::from_hours(pending_hours),
                    expires_at: expires_in.map(|h| now + SignedDuration::from_hours(h)),
                })?;
            }
            store.save(&mut book);
            if let Some(entry) = redemption {
                store.redemptions.insert(id.clone(), entry);
            }
            store.orders.push(OrderPoints {
                id: id.into(),
                total,
                earned: points,
                reversed: 0,
                refunded: 0,
                redeemed: redeem,
                returned: 0,
                cancelled: false,
            });
        }
        Op::Spend(points) => {
            let mut book = store.open(now, true);
            book.catch_up()?;
            book.spend(EntryKind::Redeem, points, None, None)?;
            store.save(&mut book);
        }
        // An adjustment of 0 is refused where it enters (app), before any book opens.
        Op::Adjust(0) => {}
        Op::Adjust(points) => {
            let mut book = store.open(now, points < 0);
            book.catch_up()?;
            if points > 0 {
                book.credit(Credit {
                    kind: EntryKind::Adjust,
                    points,
                    order_id: None,
                    reason: Some("x"),
                    available_at: now,
                    expires_at: None,
                })?;
            } else {
                book.spend(EntryKind::Adjust, -points, None, Some("x"))?;
            }
            store.save(&mut book);
        }
        Op::Cancel(n) | Op::Refund(n, _) if n >= store.orders.len() => {}
        Op::Cancel(n) => {
            let mut book = store.open(now, true);
            book.catch_up()?;
            let mut order = store.orders[n].clone();
            let spent_from = store.spent_from(&mut book, &order);
            book.cancel_order(&mut order, &spent_from)?;
            store.save(&mut book);
            store.orders[n] = order;
        }
        Op::Refund(n, amount) => {
            let mut book = store.open(now, true);
            book.catch_up()?;
            let mut order = store.orders[n].clone();
            let spent_from = store.spent_from(&mut book, &order);
            book.refund_order(&mut order, amount, &spent_from)?;
            store.save(&mut book);
            store.orders[n] = order;
        }
        Op::Advance(_) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_sequences_of_actions_keep_every_invariant(ops in proptest::collection::vec(op(), 1..80)) {
        let mut store = Store::default();
        let mut now = t(1);
        for op in ops {
            if let Op::Advance(hours) = op {
                now += SignedDuration::from_hours(hours);
                // The background job: writing expiry down changes nothing a reader sees.
                let before = ledger::balances(&store.lots, now);
                let mut book = store.open(now, true);
                book.catch_up().unwrap();
                store.save(&mut book);
                prop_assert_eq!(ledger::balances(&store.lots, now), before);
                continue;
            }
            let (entries, balances) = (store.entries.len(), store.stored);
            let before = ledger::balances(&store.lots, now).available;
            match (apply(&mut store, op.clone(), now), &op) {
                (Ok(()), Op::Spend(points)) => {
                    prop_assert_eq!(ledger::balances(&store.lots, now).available, before - points);
                }
                (Ok(()), _) => {}
                (Err(LedgerError::Insufficient { available, requested }), _) => {
                    prop_assert!(available < requested);
                    prop_assert_eq!(store.entries.len(), entries, "a refused action writes nothing");
                    prop_assert_eq!(store.stored, balances);
                }
                (Err(LedgerError::AlreadyCancelled | LedgerError::OverRefund { .. }), _) => {
                    prop_assert_eq!(store.entries.len(), entries);
                }
                (Err(other), _) => prop_assert!(false, "{:?} failed: {}", op, other),
            }
            if let Err(broken) = store.check(now) {
                prop_assert!(false, "after {:?}: {}", op, broken);
            }
        }
        // Spending takes soonest-expiring points first.
        let a = allocate_spend(&store.lots, i64::MAX / 4, now).unwrap();
        let mut last: Option<&Lot> = None;
        for (i, _) in &a.takes {
            if let Some(prev) = last {
                prop_assert!(expiry_order(prev, &store.lots[*i]) != std::cmp::Ordering::Greater);
            }
            last = Some(&store.lots[*i]);
        }
    }
}

#[test]
fn a_debit_of_no_points_or_fewer_is_refused_and_writes_nothing() {
    let mut book = Book::new(Stored::default(), t(1));
    book.load_lots(vec![]);
    for points in [0, -1, i64::MIN] {
        assert!(matches!(
            book.spend(EntryKind::Adjust, points, None, None),
            Err(LedgerError::NotPositive(_))
        ));
        assert!(matches!(
            book.reverse("o", points),
            Err(LedgerError::NotPositive(_))
        ));
        let credit = Credit {
            kind: EntryKind::Adjust,
            points,
            order_id: None,
            reason: None,
            available_at: t(1),
            expires_at: None,
        };
        assert!(matches!(
            book.credit(credit),
            Err(LedgerError::NotPositive(_))
        ));
    }
    assert!(book.take_writes().is_empty());
}

#[test]
fn a_cancel_after_a_full_refund_gives_the_spent_points_back_once() {
    let mut store = Store::default();
    apply(&mut store, Op::Adjust(100), t(1)).unwrap();
    apply(
        &mut store,
        Op::Earn {
            total: 50_000,
            redeem: 60,
            points: 5,
            pending_hours: 0,
            expires_in: None,
        },
        t(1),
    )
    .unwrap();
    apply(&mut store, Op::Refund(0, 50_000), t(2)).unwrap();
    assert_eq!(store.orders[0].returned, 60);
    apply(&mut store, Op::Cancel(0), t(3)).unwrap();
    assert_eq!(store.orders[0].returned, 60, "given back once");
    assert_eq!(ledger::balances(&store.lots, t(3)).available, 100);
    store.check(t(3)).unwrap();
}

#[test]
fn points_already_expired_when_credited_are_written_down_with_the_credit() {
    let mut book = Book::new(
        Stored {
            debt: 30,
            ..Stored::default()
        },
        t(100),
    );
    book.credit(Credit {
        kind: EntryKind::Earn,
        points: 15,
        order_id: Some("late"),
        reason: None,
        available_at: t(10),
        expires_at: Some(t(100)),
    })
    .unwrap();
    let writes = book.take_writes();
    let entries: Vec<(EntryKind, i64, Option<i64>)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Entry(e) => Some((e.kind, e.points, e.remaining)),
            _ => None,
        })
        .collect();
    assert_eq!(
        entries,
        [
            (EntryKind::Earn, 15, Some(0)),
            (EntryKind::Expire, -15, None)
        ]
    );
    assert_eq!(writes.len(), 2, "no lot is changed");
    assert_eq!(
        book.stored(),
        Stored {
            debt: 30,
            ..Stored::default()
        },
        "expired points neither pay debt nor count as held"
    );
}

#[test]
fn entry_kinds_read_back_as_written() {
    for kind in EntryKind::ALL {
        assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(EntryKind::parse("gift"), None);
}

use super::*;
use crate::sample::{interconnect_tariff, usage, voice_tariff};
use crate::tariff::{Fee, Increment, Tier, VolumeDiscount};
use crate::Unit;
use proptest::prelude::*;

fn rec(id: &str, product: &str, q: u64, unit: Unit) -> UsageRecord {
    UsageRecord::new(id, 1_793_491_260, product, q, unit).unwrap()
}

fn opts() -> RatingOptions {
    RatingOptions::default()
}

#[test]
fn rounding_modes_match_the_table() {
    use RoundingMode::*;
    // (x, d) -> [Up, Down, HalfUp, HalfEven]
    let cases = [
        ((0, 1000), [0, 0, 0, 0]),
        ((1, 1000), [1, 0, 0, 0]),
        ((500, 1000), [1, 0, 1, 0]),
        ((1500, 1000), [2, 1, 2, 2]),
        ((2500, 1000), [3, 2, 3, 2]),
        ((2501, 1000), [3, 2, 3, 3]),
        ((2499, 1000), [3, 2, 2, 2]),
        ((3000, 1000), [3, 3, 3, 3]),
    ];
    for ((x, d), want) in cases {
        for (mode, w) in [Up, Down, HalfUp, HalfEven].into_iter().zip(want) {
            assert_eq!(round_div(x, d, mode), w, "round({x},{d}) {mode:?}");
        }
    }
}

#[test]
fn increments_60_1_and_30_6() {
    let t = interconnect_tariff();
    let voice = t.product(&ProductId::new("voice-termination")).unwrap();
    assert_eq!(billed_quantity(0, voice), 0);
    assert_eq!(billed_quantity(1, voice), 60);
    assert_eq!(billed_quantity(60, voice), 60);
    assert_eq!(billed_quantity(61, voice), 61);
    let v = voice_tariff();
    let p = &v.products[0];
    assert_eq!(billed_quantity(5, p), 30);
    assert_eq!(billed_quantity(31, p), 36);
    assert_eq!(billed_quantity(36, p), 36);
    assert_eq!(billed_quantity(37, p), 42);
}

#[test]
fn tiers_and_packages() {
    let graduated = Pricing::Graduated {
        tiers: vec![
            Tier { up_to: Some(10), price: 100 },
            Tier { up_to: Some(20), price: 50 },
            Tier { up_to: None, price: 10 },
        ],
    };
    assert_eq!(charge_nanos(0, &graduated), 0);
    assert_eq!(charge_nanos(5, &graduated), 500);
    assert_eq!(charge_nanos(10, &graduated), 1000);
    assert_eq!(charge_nanos(15, &graduated), 1000 + 250);
    assert_eq!(charge_nanos(25, &graduated), 1000 + 500 + 50);
    let volume = Pricing::Volume {
        tiers: vec![Tier { up_to: Some(10), price: 100 }, Tier { up_to: None, price: 50 }],
    };
    assert_eq!(charge_nanos(10, &volume), 1000);
    assert_eq!(charge_nanos(11, &volume), 550);
    let package = Pricing::Package { block: 1000, price: 7 };
    assert_eq!(charge_nanos(0, &package), 0);
    assert_eq!(charge_nanos(1, &package), 7);
    assert_eq!(charge_nanos(1000, &package), 7);
    assert_eq!(charge_nanos(1001, &package), 14);
}

#[test]
fn worked_invoice_is_pinned() {
    // A worked example checked by hand; the figures are the rating rules' specification.
    let t = interconnect_tariff();
    let records = vec![
        rec("v1", "voice-termination", 5, Unit::Second), // bills 60 s
        rec("v2", "voice-termination", 125, Unit::Second), // bills 125 s
        rec("d1", "iot-data", 6_000, Unit::Kilobyte),
        rec("d2", "iot-data", 1_010_000, Unit::Kilobyte),
        rec("s1", "sms-mt", 3, Unit::Message),
        rec("a1", "api-call", 1_001, Unit::Event),
    ];
    let (r, rated) = rate(&t, &records, &RatingOptions { include_one_time_fees: true }).unwrap();
    assert_eq!(rated[0].billed_quantity, 60);
    // voice: 185 s × 205 000 n = 37 925 000 n = 37 925 µ
    // data: Q = 1 016 000, free 10 000, C = 1 006 000:
    //   1 000 000 × 20 000 + 6 000 × 12 000 = 20 072 000 000 n = 20 072 000 µ
    // sms: 3 × 9 000 000 n = 27 000 µ; api: 2 blocks × 500 000 000 n = 1 000 000 µ
    let amounts: Vec<_> = r.lines.iter().map(|l| (l.product.0.as_str(), l.amount)).collect();
    assert_eq!(
        amounts,
        [
            ("api-call", 1_000_000),
            ("iot-data", 20_072_000),
            ("sms-mt", 27_000),
            ("voice-termination", 37_925)
        ]
    );
    assert_eq!(r.usage, 21_136_925);
    // fees: 250 EUR + 100 EUR activation
    assert_eq!(r.subtotal, 21_136_925 + 350_000_000);
    // below the 10 000 EUR discount threshold: no discount; below the 500 EUR minimum:
    // true-up of 500 − 371.136925 EUR
    assert_eq!((r.discount, r.true_up), (0, 128_863_075));
    assert_eq!(r.net, 500_000_000);
    assert_eq!(r.tax, 95_000_000);
    assert_eq!(r.total, 595_000_000);

    // Without the minimum: 19 % of 371.136925 = 70.51601575 → half-even 70.516016
    let mut t = t;
    t.minimum_charge = 0;
    let (r, _) = rate(&t, &records, &RatingOptions { include_one_time_fees: true }).unwrap();
    assert_eq!((r.true_up, r.net, r.tax, r.total), (0, 371_136_925, 70_516_016, 441_652_941));
}

#[test]
fn minimum_charge_true_up_and_discounts() {
    let mut t = interconnect_tariff();
    t.recurring_fees.clear();
    let small = vec![rec("s1", "sms-mt", 10, Unit::Message)];
    let (r, _) = rate(&t, &small, &opts()).unwrap();
    assert_eq!(r.usage, 90_000);
    assert_eq!(r.true_up, 500_000_000 - 90_000);
    assert_eq!(r.net, 500_000_000);

    t.minimum_charge = 0;
    t.volume_discounts = vec![
        VolumeDiscount { threshold: 50_000, discount_bps: 100 },
        VolumeDiscount { threshold: 80_000, discount_bps: 1_000 },
    ];
    let (r, _) = rate(&t, &small, &opts()).unwrap();
    // 90 000 ≥ 80 000: the highest threshold reached applies, 10 %.
    assert_eq!(r.discount, 9_000);
    assert_eq!(r.net, 81_000);
}

#[test]
fn per_record_and_per_invoice_rounding() {
    let t = voice_tariff(); // per record, up; 30/6 increments; 180 000 n/s
    let records = vec![
        rec("a", "voice-termination", 1, Unit::Second),
        rec("b", "voice-termination", 31, Unit::Second),
    ];
    let (r, rated) = rate(&t, &records, &opts()).unwrap();
    // a: 30 s × 180 000 = 5 400 000 n = 5 400 µ; b: 36 s → 6 480 µ
    assert_eq!(rated.iter().map(|x| x.amount).collect::<Vec<_>>(), [5_400, 6_480]);
    assert_eq!(r.total, 11_880);

    let mut t = voice_tariff();
    t.products[0].pricing = Pricing::Flat { price: 1_500 }; // 1.5 µ per second
    t.products[0].increment = Increment::PER_UNIT;
    let three = vec![
        rec("a", "voice-termination", 1, Unit::Second),
        rec("b", "voice-termination", 1, Unit::Second),
        rec("c", "voice-termination", 1, Unit::Second),
    ];
    let (r, _) = rate(&t, &three, &opts()).unwrap();
    assert_eq!(r.usage, 6); // ceil(1.5) × 3
    t.rounding.scope = RoundingScope::PerLine;
    t.rounding.mode = RoundingMode::HalfEven;
    let (r, _) = rate(&t, &three, &opts()).unwrap();
    assert_eq!(r.usage, 4); // 4.5 → 4
    t.rounding.scope = RoundingScope::PerInvoice;
    let mut t2 = t.clone();
    t2.products.push(ProductTariff {
        product: ProductId::new("zz-sms"),
        unit: Unit::Message,
        increment: Increment::PER_UNIT,
        free_units: 0,
        pricing: Pricing::Flat { price: 1_500 },
    });
    let mixed =
        vec![rec("a", "voice-termination", 1, Unit::Second), rec("m", "zz-sms", 1, Unit::Message)];
    let (r, _) = rate(&t2, &mixed, &opts()).unwrap();
    // lines 1.5 → 2 each (half-even: 2), exact sum 3.0 → 3: adjustment −1
    assert_eq!(r.lines.iter().map(|l| l.amount).sum::<i64>(), 4);
    assert_eq!((r.usage, r.rounding_adjustment), (3, -1));
}

#[test]
fn bad_input_is_refused_with_reason() {
    let t = interconnect_tariff();
    let unknown = vec![rec("x1", "roaming", 5, Unit::Second)];
    let err = rate(&t, &unknown, &opts()).unwrap_err();
    assert_eq!(err, Error::UnknownProduct { id: "x1".into(), product: "roaming".into() });
    let wrong_unit = vec![rec("x2", "voice-termination", 5, Unit::Byte)];
    assert!(rate(&t, &wrong_unit, &opts()).unwrap_err().to_string().contains("unit B"));
    let mut huge = rec("x3", "voice-termination", 5, Unit::Second);
    huge.quantity = u64::MAX;
    assert!(rate(&t, &[huge], &opts()).unwrap_err().to_string().contains("2^48"));

    // all-or-nothing: a bad record leaves the totals as they were
    let mut totals = UsageTotals::new(&t);
    totals.add_records(&t, &usage(&t, "ok", 0, 10)).unwrap();
    let before = totals.clone();
    let mut batch = usage(&t, "b", 0, 5);
    batch.push(rec("bad", "roaming", 1, Unit::Second));
    assert!(totals.add_records(&t, &batch).is_err());
    assert_eq!(totals, before);
}

#[test]
fn tariff_validation() {
    let mut t = interconnect_tariff();
    t.products.swap(0, 1);
    assert!(t.validate().unwrap_err().to_string().contains("sorted"));
    let mut t = interconnect_tariff();
    t.products[3].increment.then = 0;
    assert!(t.validate().is_err());
    let mut t = interconnect_tariff();
    t.rounding.scope = RoundingScope::PerRecord;
    assert!(t.validate().unwrap_err().to_string().contains("per-record"));
    let mut t = interconnect_tariff();
    t.tax_rate_bps = 10_001;
    assert!(t.validate().is_err());
    let mut t = interconnect_tariff();
    t.recurring_fees.push(Fee { name: "neg".into(), amount: -1 });
    assert!(t.validate().is_err());
    let mut t = interconnect_tariff();
    if let Pricing::Graduated { tiers } = &mut t.products[1].pricing {
        tiers[1].up_to = Some(5);
    }
    assert!(t.validate().unwrap_err().to_string().contains("tier bound"));
}

#[test]
fn parallel_equals_sequential_on_large_input() {
    let t = interconnect_tariff();
    let records = usage(&t, "r", 0, 3 * PARALLEL_CHUNK + 17);
    let par = rate(&t, &records, &opts()).unwrap();
    let seq = rate_sequential(&t, &records, &opts()).unwrap();
    assert_eq!(par, seq);
    // and with a different thread count
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    assert_eq!(pool.install(|| rate(&t, &records, &opts()).unwrap()), seq);
}

#[test]
fn rating_digest_is_pinned() {
    let t = interconnect_tariff();
    let (r, _) = rate(&t, &usage(&t, "p", 1_793_491_200, 100), &opts()).unwrap();
    assert_eq!(
        r.digest().to_hex(),
        "642e95097ad20c88ad9b686761c82a7bf2278036e8205d30f5ba9929fbab29a4"
    );
}

fn arb_tariff() -> impl Strategy<Value = Tariff> {
    let pricing = prop_oneof![
        (0u64..1_000_000).prop_map(|price| Pricing::Flat { price }),
        (1u64..5_000, 1u64..5_000, 0u64..500_000, 0u64..500_000, 0u64..500_000).prop_map(
            |(a, b, p1, p2, p3)| Pricing::Graduated {
                tiers: vec![
                    Tier { up_to: Some(a), price: p1 },
                    Tier { up_to: Some(a + b), price: p2 },
                    Tier { up_to: None, price: p3 }
                ]
            }
        ),
        (1u64..5_000, 0u64..500_000, 0u64..500_000).prop_map(|(a, p1, p2)| Pricing::Volume {
            tiers: vec![Tier { up_to: Some(a), price: p1 }, Tier { up_to: None, price: p2 }]
        }),
        (1u64..100, 0u64..5_000_000).prop_map(|(block, price)| Pricing::Package { block, price }),
    ];
    (pricing, 0u64..100, 1u64..30, 0u64..1_000, 0usize..4, 0usize..3, 0i64..1_000_000, 0u32..3000)
        .prop_map(|(pricing, first, then, free, mode, scope, minimum, tax)| {
            let mut t = interconnect_tariff();
            t.products[3].pricing = pricing.clone();
            t.products[3].increment = Increment { first, then };
            t.products[3].free_units = free;
            t.minimum_charge = minimum;
            t.tax_rate_bps = tax;
            t.rounding.mode = [
                RoundingMode::Up,
                RoundingMode::Down,
                RoundingMode::HalfUp,
                RoundingMode::HalfEven,
            ][mode];
            t.rounding.scope =
                [RoundingScope::PerLine, RoundingScope::PerInvoice, RoundingScope::PerLine][scope];
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Rating is deterministic and independent of batch split, order and thread count.
    #[test]
    fn rating_is_independent_of_split_and_order(
        t in arb_tariff(),
        n in 1usize..400,
        split in 0usize..400,
        seed in any::<u64>(),
    ) {
        let records = usage(&t, &format!("s{seed}-"), 0, n);
        let whole = rate(&t, &records, &opts()).unwrap();
        prop_assert_eq!(&whole, &rate(&t, &records, &opts()).unwrap());

        let split = split.min(n);
        let mut totals = UsageTotals::new(&t);
        totals.add_records(&t, &records[split..]).unwrap();
        totals.add_records(&t, &records[..split]).unwrap();
        prop_assert_eq!(&totals.rate(&t, &opts()).unwrap(), &whole.0);

        let mut reversed = records.clone();
        reversed.reverse();
        prop_assert_eq!(rate(&t, &reversed, &opts()).unwrap().0, whole.0.clone());

        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        prop_assert_eq!(one.install(|| rate(&t, &records, &opts()).unwrap()).0, whole.0);
    }

    /// Totals are consistent: net = subtotal − discount + true-up ≥ minimum, total = net + tax.
    #[test]
    fn totals_are_consistent(t in arb_tariff(), n in 0usize..200) {
        let records = usage(&t, "c", 0, n);
        let (r, _) = rate(&t, &records, &opts()).unwrap();
        prop_assert_eq!(r.net, r.subtotal - r.discount + r.true_up);
        prop_assert!(r.net >= t.minimum_charge);
        prop_assert_eq!(r.total, r.net + r.tax);
        prop_assert_eq!(r.usage, r.lines.iter().map(|l| l.amount).sum::<i64>() + r.rounding_adjustment);
        prop_assert!(r.rounding_adjustment.abs() <= r.lines.len() as i64);
    }
}

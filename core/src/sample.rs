//! Sample tariffs and usage, for the demo, the benchmarks and tests: an interconnect
//! tariff that exercises every rating rule, and a deterministic usage generator.

use crate::tariff::{
    Fee, Increment, Pricing, ProductTariff, Rounding, RoundingMode, RoundingScope, Tariff, Tier,
    VolumeDiscount,
};
use crate::{Currency, ProductId, Unit, UsageRecord};

/// An interconnect tariff with voice (60/1 increments, flat), IoT data (graduated tiers
/// with free units), SMS (volume tiers) and API events (package pricing), a recurring and
/// a one-time fee, a minimum charge, volume discounts and 19 % tax, rounded per line,
/// half-even.
pub fn interconnect_tariff() -> Tariff {
    Tariff {
        id: "ic-2026".into(),
        version: 1,
        currency: Currency::EUR,
        products: vec![
            ProductTariff {
                product: ProductId::new("api-call"),
                unit: Unit::Event,
                increment: Increment::PER_UNIT,
                free_units: 0,
                // 0.50 EUR per started block of 1000 calls
                pricing: Pricing::Package { block: 1000, price: 500_000_000 },
            },
            ProductTariff {
                product: ProductId::new("iot-data"),
                unit: Unit::Kilobyte,
                increment: Increment { first: 1, then: 1 },
                free_units: 10_000,
                pricing: Pricing::Graduated {
                    tiers: vec![
                        Tier { up_to: Some(1_000_000), price: 20_000 },
                        Tier { up_to: Some(10_000_000), price: 12_000 },
                        Tier { up_to: None, price: 7_500 },
                    ],
                },
            },
            ProductTariff {
                product: ProductId::new("sms-mt"),
                unit: Unit::Message,
                increment: Increment::PER_UNIT,
                free_units: 0,
                pricing: Pricing::Volume {
                    tiers: vec![
                        Tier { up_to: Some(100_000), price: 9_000_000 },
                        Tier { up_to: None, price: 6_500_000 },
                    ],
                },
            },
            ProductTariff {
                product: ProductId::new("voice-termination"),
                unit: Unit::Second,
                increment: Increment { first: 60, then: 1 },
                free_units: 0,
                // 0.0123 EUR per minute = 205 000 nano-units per second
                pricing: Pricing::Flat { price: 205_000 },
            },
        ],
        recurring_fees: vec![Fee { name: "port rental".into(), amount: 250_000_000 }],
        one_time_fees: vec![Fee { name: "activation".into(), amount: 100_000_000 }],
        minimum_charge: 500_000_000,
        volume_discounts: vec![
            VolumeDiscount { threshold: 10_000_000_000, discount_bps: 200 },
            VolumeDiscount { threshold: 100_000_000_000, discount_bps: 500 },
        ],
        rounding: Rounding { mode: RoundingMode::HalfEven, scope: RoundingScope::PerLine },
        tax_rate_bps: 1900,
    }
}

/// A simple voice tariff rounded per record (flat, no free units).
pub fn voice_tariff() -> Tariff {
    Tariff {
        id: "voice-2026".into(),
        version: 1,
        currency: Currency::EUR,
        products: vec![ProductTariff {
            product: ProductId::new("voice-termination"),
            unit: Unit::Second,
            increment: Increment { first: 30, then: 6 },
            free_units: 0,
            pricing: Pricing::Flat { price: 180_000 },
        }],
        recurring_fees: vec![],
        one_time_fees: vec![],
        minimum_charge: 0,
        volume_discounts: vec![],
        rounding: Rounding { mode: RoundingMode::Up, scope: RoundingScope::PerRecord },
        tax_rate_bps: 0,
    }
}

/// `n` deterministic usage records for `tariff`'s products, ids `{prefix}{i}`, dated
/// from `start` one second apart.
pub fn usage(tariff: &Tariff, prefix: &str, start: u64, n: usize) -> Vec<UsageRecord> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            // xorshift: reproducible without a dependency on rand's algorithms
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = &tariff.products[i % tariff.products.len()];
            let quantity = match p.unit {
                Unit::Second => x % 900,
                Unit::Kilobyte | Unit::Byte => x % 50_000,
                _ => 1 + x % 20,
            };
            UsageRecord {
                id: format!("{prefix}{i}"),
                usage_date: start + i as u64,
                usage_type: p.product.clone(),
                quantity,
                unit: p.unit,
                characteristics: Vec::new(),
            }
        })
        .collect()
}

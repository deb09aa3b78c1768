//! The rating circuits: `omni_core::rating` (rules 1–10) as Groth16/BN254 statements.
//!
//! A rating proof of many records is split in two shapes so that any number of records
//! can be proven with fixed-size circuits:
//!
//! 1. [`UsageChunkCircuit`] rates up to `K` records (rules 1–2): it opens a committed
//!    *state* (usage sponge, per-product billed sums `Q_p`, record count), absorbs the
//!    chunk's records into the usage sponge, adds each record's billed quantity `b(q)` to
//!    its product's sum and commits to the new state. Chunks chain: one chunk's
//!    `state_out` is the next one's `state_in`; the first starts from
//!    [`initial_state_commitment`].
//! 2. [`FinalCircuit`] (rules 3–10) opens the last state, recomputes the invoice total
//!    from the `Q_p` and the tariff and exposes a Pedersen commitment to it, next to the
//!    usage commitment (the sponge's output).
//! 3. [`IntervalCircuit`] is both in one for an interval of at most `K` records: rules
//!    1–2 from the initial state, then rules 3–10 on the state they reach, with no state
//!    commitment in between. Most invoices fit one chunk; their rating proof is then one
//!    Groth16 proof instead of two, which halves what every verifier does.
//!
//! All take the tariff privately and match it against the public
//! [`tariff_commitment`], the Poseidon sponge over [`tariff_to_fields`].
//!
//! # Records in the circuit
//!
//! Rule 1 (product and unit of each record) is checked natively by the witness builder
//! (through `omni_core::rating`), which turns every record into `(q, p)`: its quantity
//! and its product's index `p < MAX_PRODUCTS` in the tariff. Per record the chunk circuit
//! proves, with one-hot selector bits `s_0..s_3` of `p` and the product's increment
//! `(first, then)`:
//!
//! ```text
//! z  = [q = 0]                          k  < 2^48 (witness)       nz = [k ≠ 0]
//! b  = (1 − z)·(first + k·then)
//! d1 = b − q                                       ∈ [0, 2^48)    (b ≥ q)
//! d2 = q − 1 + z − nz·(b − then)                   ∈ [0, 2^48)
//! ```
//!
//! `d2` says: if `k > 0`, `b − then < q` (b is the *smallest* step ≥ q); if `k = 0` and
//! `q ≠ 0`, `q ≥ 1`. So for `q > 0`: either `k = 0` and `1 ≤ q ≤ first` (`b = first`), or
//! `k ≥ 1` and `first + (k−1)·then < q ≤ first + k·then`: exactly rule 2's `b(q)`. In
//! both cases `q` is a non-negative integer below `b < 2^97`, without a range check of
//! its own.
//!
//! # The usage commitment
//!
//! A record enters the sponge as one field element `e = 1 + p + 8·q` (a padding slot as
//! `e = 0`, with `p = q = 0` enforced). Since `p < 4` and `0 ≤ q < 2^97` are proven
//! above, `e < 2^101 ≪ r` and `(p, q) ↦ e` is injective: the absorbed `e` determine the
//! records. The usage sponge is Poseidon t = 5 (circomlib's `Poseidon(4)` permutation):
//!
//! ```text
//! state = [USAGE_IV, 0, 0, 0, 0],  USAGE_IV = DOMAIN_USAGE·2^128 + 1
//! for each block of 4 records (the last one padded with e = 0):
//!     state[1..5] += (e_1, …, e_4);  state = permutation(state)
//! usage_commitment = poseidon_hash_with_domain(DOMAIN_USAGE, [state[0..5], n])
//! ```
//!
//! where `n` is the number of records. In a chunk, a block whose first slot is padding
//! leaves the state unchanged (so the commitment does not depend on `K`, which must be a
//! multiple of 4); padding slots form a suffix of the chunk.
//!
//! # The state commitment
//!
//! `state = poseidon_hash_with_domain(DOMAIN_STATE, [salt, sponge[0..5], Q_0..Q_3, n])`
//! with a random `salt` (hiding); the initial state uses salt 0 so that anybody can
//! recompute [`initial_state_commitment`].
//!
//! # The final circuit
//!
//! [`FinalCircuit`] opens the last state and the tariff and follows `omni_core::rating`'s
//! `finish` step by step, per product `p < MAX_PRODUCTS` (absent products have `Q_p = 0`
//! and an all-zero price, so their lines are 0 as the engine's skipped lines):
//!
//! ```text
//! Q_p < 2^64 (range check);  C_p = Q_p − min(Q_p, free_p)                      rule 3
//! N_p = C·price(first tier with C ≤ u_i)         (Flat, Volume)                rule 4
//!     = Σ price_i·clamp(C − u_{i−1}, 0, u_i − u_{i−1})   (Graduated)
//!     = ⌈C/block⌉·price                          (Package, round_div_var Up)
//! L_p = round(N_p, 1000);  U = PerInvoice ? round(Σ N_p, 1000) : Σ L_p          rule 5
//! F = recurring + include_one_time·one_time;  S = U + F < 2^64                 rules 6–7
//! D = round(S·bps, 10000), bps of the last discount with threshold ≤ S, else 0 rule 8
//! M = minimum − min(minimum, S − D)                                            rule 9
//! net = S − D + M;  tax = round(net·tax_bps, 10000);  total = net + tax        rule 10
//! ```
//!
//! The pricing kind and the rounding mode are private tariff fields, so the circuit
//! computes every candidate and selects with one-hot bits bound to the field's code;
//! `round(x, d)` divides once by the constant `d` and adds the rounding step of the
//! selected mode (`[r > 0]`, 0, `[2r ≥ d]` or `[2r > d] + [2r = d]·q₀`). The total is
//! committed with [`commit_var`] (which proves `total < 2^64`) and compared with the
//! public commitment. Cost: [`FINAL_CONSTRAINTS`].
//!
//! # Trust in committed values
//!
//! Tariff fields are not range-checked in-circuit: the public tariff commitment is
//! computed by both parties with [`tariff_commitment`] from a validated tariff, so a
//! prover opening it to other values would have to find a Poseidon collision. The
//! gadgets' width assumptions on tariff fields (increments below 2^48, prices below 2^40,
//! tier bounds at most 2^64, …) hold for every output of [`tariff_to_fields`].

use ark_bn254::Fr;
use ark_ff::{PrimeField, Zero};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    R1CSVar,
};
use ark_relations::{
    lc,
    r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError, Variable},
};
use omni_core::{
    rating::{RatedRecord, RatingOptions, UsageTotals},
    tariff::{Pricing, RoundingMode, RoundingScope, Tariff},
    UsageRecord,
};

use crate::{
    gadgets::{
        self, alloc_bits, divmod_var, enforce_bit_length, is_less_or_equal, is_less_than,
        round_div_var, select,
    },
    pedersen::{alloc_blinding, commit_var, PedersenCommitment, Scalar},
    poseidon::{params_t5, poseidon_hash_with_domain, poseidon_hash_with_domain_var, SPONGE_RATE},
    Error, Result,
};

/// Products per tariff the circuits handle (tariffs with fewer are padded).
pub const MAX_PRODUCTS: usize = 4;
/// Price tiers per product the circuits handle.
pub const MAX_TIERS: usize = 3;
/// Volume discounts per tariff the circuits handle.
pub const MAX_DISCOUNTS: usize = 2;
/// Width of quantities, increments, `k` and the per-record differences.
pub const QUANTITY_BITS: usize = 48;
/// Field elements per product in [`tariff_to_fields`].
pub const PRODUCT_FIELDS: usize = 10;
/// Field elements after the products in [`tariff_to_fields`].
pub const GLOBAL_FIELDS: usize = 10;
/// Length of [`tariff_to_fields`]' output: the digest, the products, the global fields.
pub const TARIFF_FIELDS: usize = 1 + MAX_PRODUCTS * PRODUCT_FIELDS + GLOBAL_FIELDS;
/// Width of chargeable quantities (per-product sums of billed quantities) in the final
/// circuit.
pub const CHARGEABLE_BITS: usize = 64;
/// The "unbounded" tier bound in [`tariff_to_fields`]: `2^64`, above every chargeable
/// quantity.
pub const UNBOUNDED: u128 = 1 << CHARGEABLE_BITS;
/// Sponge domain of [`tariff_commitment`].
pub const DOMAIN_TARIFF: u64 = 0x6f6d_6e69_5441_5249; // "omniTARI"
/// Sponge domain of the usage sponge and [`usage_commitment`].
pub const DOMAIN_USAGE: u64 = 0x6f6d_6e69_5553_4147; // "omniUSAG"
/// Sponge domain of state commitments.
pub const DOMAIN_STATE: u64 = 0x6f6d_6e69_5354_4154; // "omniSTAT"
/// Width of the usage sponge (Poseidon t = 5).
pub const SPONGE_WIDTH: usize = 5;

// ---------------------------------------------------------------------------------------
// The tariff's field encoding
// ---------------------------------------------------------------------------------------

/// Offsets of a product's fields within its [`PRODUCT_FIELDS`] slot.
mod product_field {
    pub const FIRST: usize = 0;
    pub const THEN: usize = 1;
    pub const FREE: usize = 2;
    pub const KIND: usize = 3;
    pub const BLOCK: usize = 4;
    pub const BOUND1: usize = 5;
    pub const BOUND2: usize = 6;
    pub const PRICE1: usize = 7;
}

/// Offsets of the global fields (after the products).
mod global_field {
    pub const RECURRING: usize = 0;
    pub const ONE_TIME: usize = 1;
    pub const MINIMUM: usize = 2;
    pub const THRESHOLD1: usize = 3;
    pub const MODE: usize = 7;
    pub const SCOPE: usize = 8;
    pub const TAX: usize = 9;
}

/// Index of product `j`'s field `offset` in [`tariff_to_fields`].
fn product_index(j: usize, offset: usize) -> usize {
    1 + j * PRODUCT_FIELDS + offset
}

/// Index of global field `offset` in [`tariff_to_fields`].
fn global_index(offset: usize) -> usize {
    1 + MAX_PRODUCTS * PRODUCT_FIELDS + offset
}

/// The pricing kind codes of [`tariff_to_fields`].
fn kind_code(pricing: &Pricing) -> u64 {
    match pricing {
        Pricing::Flat { .. } => 0,
        Pricing::Graduated { .. } => 1,
        Pricing::Volume { .. } => 2,
        Pricing::Package { .. } => 3,
    }
}

/// The rounding mode codes of [`tariff_to_fields`].
fn mode_code(mode: RoundingMode) -> u64 {
    match mode {
        RoundingMode::Up => 0,
        RoundingMode::Down => 1,
        RoundingMode::HalfUp => 2,
        RoundingMode::HalfEven => 3,
    }
}

fn rating_error(e: omni_core::Error) -> Error {
    Error::Rating(e.to_string())
}

/// The canonical field encoding of a tariff, [`TARIFF_FIELDS`] elements:
///
/// ```text
/// [0]            the tariff's digest (`Tariff::digest`), first 31 bytes little-endian
/// per product j < MAX_PRODUCTS (10 each; absent products: 0, 1, 0, 0, 1, 2^64, 2^64, 0, 0, 0):
///   first, then, free_units, kind (0 Flat, 1 Graduated, 2 Volume, 3 Package),
///   block (Package; else 1), bound_1, bound_2, price_1, price_2, price_3
/// globals (10):
///   Σ recurring fees, Σ one-time fees, minimum charge,
///   threshold_1, bps_1, threshold_2, bps_2,
///   rounding mode (0 Up, 1 Down, 2 HalfUp, 3 HalfEven), scope (1 PerLine, 2 PerInvoice),
///   tax bps
/// ```
///
/// Tiers are padded to [`MAX_TIERS`]: missing bounds (and the unbounded last one) are
/// [`UNBOUNDED`], missing prices repeat the last price. Flat and Package prices fill all
/// three price slots with unbounded bounds (a flat price is a single volume tier).
/// Discounts are right-aligned and padded on the left with `(0, 0)`, which never changes
/// which discount is "the last one with threshold ≤ S".
///
/// Refuses (with [`Error::Unsupported`]) tariffs outside the circuit's shape: per-record
/// rounding, more than [`MAX_PRODUCTS`] products, [`MAX_TIERS`] tiers or
/// [`MAX_DISCOUNTS`] discounts; and invalid tariffs ([`Error::Rating`]).
pub fn tariff_to_fields(tariff: &Tariff) -> Result<Vec<Fr>> {
    tariff.validate().map_err(rating_error)?;
    if tariff.products.len() > MAX_PRODUCTS {
        return Err(Error::Unsupported(format!(
            "{} products (at most {MAX_PRODUCTS})",
            tariff.products.len()
        )));
    }
    if tariff.volume_discounts.len() > MAX_DISCOUNTS {
        return Err(Error::Unsupported(format!(
            "{} volume discounts (at most {MAX_DISCOUNTS})",
            tariff.volume_discounts.len()
        )));
    }
    let scope = match tariff.rounding.scope {
        RoundingScope::PerRecord => {
            return Err(Error::Unsupported("per-record rounding".into()));
        }
        RoundingScope::PerLine => 1u64,
        RoundingScope::PerInvoice => 2,
    };
    let mut fields = Vec::with_capacity(TARIFF_FIELDS);
    let digest = tariff.digest().0;
    fields.push(Fr::from_le_bytes_mod_order(&digest[..31]));
    for j in 0..MAX_PRODUCTS {
        let Some(p) = tariff.products.get(j) else {
            let absent: [u128; PRODUCT_FIELDS] = [0, 1, 0, 0, 1, UNBOUNDED, UNBOUNDED, 0, 0, 0];
            fields.extend(absent.map(Fr::from));
            continue;
        };
        let (block, bounds, prices): (u64, [u128; 2], [u64; MAX_TIERS]) = match &p.pricing {
            Pricing::Flat { price } => (1, [UNBOUNDED; 2], [*price; MAX_TIERS]),
            Pricing::Package { block, price } => (*block, [UNBOUNDED; 2], [*price; MAX_TIERS]),
            Pricing::Graduated { tiers } | Pricing::Volume { tiers } => {
                if tiers.len() > MAX_TIERS {
                    return Err(Error::Unsupported(format!(
                        "product {}: {} tiers (at most {MAX_TIERS})",
                        p.product,
                        tiers.len()
                    )));
                }
                let mut bounds = [UNBOUNDED; 2];
                let mut prices = [0; MAX_TIERS];
                for i in 0..MAX_TIERS {
                    // validate() guarantees at least one tier.
                    let t = tiers.get(i).or(tiers.last()).ok_or_else(|| {
                        Error::Unsupported(format!("product {}: no tiers", p.product))
                    })?;
                    prices[i] = t.price;
                    if i < 2 {
                        bounds[i] =
                            tiers.get(i).and_then(|t| t.up_to).map_or(UNBOUNDED, u128::from);
                    }
                }
                (1, bounds, prices)
            }
        };
        fields.extend([
            Fr::from(p.increment.first),
            Fr::from(p.increment.then),
            Fr::from(p.free_units),
            Fr::from(kind_code(&p.pricing)),
            Fr::from(block),
            Fr::from(bounds[0]),
            Fr::from(bounds[1]),
        ]);
        fields.extend(prices.map(Fr::from));
    }
    let sum = |fees: &[omni_core::tariff::Fee]| -> Result<u64> {
        let total: u128 = fees.iter().map(|f| f.amount.unsigned_abs() as u128).sum();
        u64::try_from(total)
            .ok()
            .filter(|t| *t < 1 << 62)
            .ok_or_else(|| Error::Unsupported("fee sum of 2^62 micro-units or more".into()))
    };
    fields.push(Fr::from(sum(&tariff.recurring_fees)?));
    fields.push(Fr::from(sum(&tariff.one_time_fees)?));
    fields.push(Fr::from(tariff.minimum_charge.unsigned_abs()));
    let mut discounts = [(0u64, 0u32); MAX_DISCOUNTS];
    let offset = MAX_DISCOUNTS - tariff.volume_discounts.len();
    for (slot, d) in discounts[offset..].iter_mut().zip(&tariff.volume_discounts) {
        *slot = (d.threshold.unsigned_abs(), d.discount_bps);
    }
    for (threshold, bps) in discounts {
        fields.push(Fr::from(threshold));
        fields.push(Fr::from(bps));
    }
    fields.push(Fr::from(mode_code(tariff.rounding.mode)));
    fields.push(Fr::from(scope));
    fields.push(Fr::from(tariff.tax_rate_bps));
    debug_assert_eq!(fields.len(), TARIFF_FIELDS);
    Ok(fields)
}

/// The tariff commitment: `poseidon_hash_with_domain(DOMAIN_TARIFF, tariff_to_fields(t))`.
pub fn tariff_commitment(tariff: &Tariff) -> Result<Fr> {
    Ok(poseidon_hash_with_domain(DOMAIN_TARIFF, &tariff_to_fields(tariff)?))
}

// ---------------------------------------------------------------------------------------
// Native usage sponge and state
// ---------------------------------------------------------------------------------------

/// One rated record as the circuits see it: quantity `q < 2^48` and product index
/// `p < MAX_PRODUCTS`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Slot {
    /// Raw quantity.
    pub quantity: u64,
    /// Index of the product in the tariff.
    pub product: u8,
}

impl Slot {
    /// The sponge element of a record, `1 + p + 8·q`.
    pub fn element(&self) -> Fr {
        Fr::from(1 + u128::from(self.product) + 8 * u128::from(self.quantity))
    }

    fn check(&self) -> Result<()> {
        if usize::from(self.product) >= MAX_PRODUCTS {
            return Err(Error::Unsupported(format!(
                "product index {} (at most {MAX_PRODUCTS} products)",
                self.product
            )));
        }
        if self.quantity >= 1 << QUANTITY_BITS {
            return Err(Error::OutOfRange { bits: QUANTITY_BITS });
        }
        Ok(())
    }
}

/// The usage sponge's initial capacity element, `DOMAIN_USAGE·2^128 + 1`.
fn usage_iv() -> Fr {
    Fr::from(DOMAIN_USAGE) * Fr::from(1u128 << 64) * Fr::from(1u128 << 64) + Fr::from(1u64)
}

/// The state chunks carry from one to the next (module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UsageState {
    /// The usage sponge's state.
    pub sponge: [Fr; SPONGE_WIDTH],
    /// `Q_p`: per-product sums of billed quantities.
    pub billed: [u128; MAX_PRODUCTS],
    /// Number of records absorbed.
    pub count: u64,
}

impl Default for UsageState {
    fn default() -> Self {
        Self::initial()
    }
}

impl UsageState {
    /// The state before any record.
    pub fn initial() -> Self {
        let mut sponge = [Fr::zero(); SPONGE_WIDTH];
        sponge[0] = usage_iv();
        UsageState { sponge, billed: [0; MAX_PRODUCTS], count: 0 }
    }

    /// The state's fields in commitment order: sponge, `Q_0..Q_3`, count.
    pub fn fields(&self) -> Vec<Fr> {
        let mut f = self.sponge.to_vec();
        f.extend(self.billed.map(Fr::from));
        f.push(Fr::from(self.count));
        f
    }

    /// The state commitment under `salt`.
    pub fn commitment(&self, salt: Fr) -> Fr {
        let mut inputs = vec![salt];
        inputs.extend(self.fields());
        poseidon_hash_with_domain(DOMAIN_STATE, &inputs)
    }

    /// Absorbs records with their billed quantities `(slot, b)`, 4 per block, the last
    /// block padded. (Chunks must hand over at block boundaries; only the last chunk may
    /// end in a partial block.)
    pub fn absorb(&mut self, records: &[(Slot, u64)]) {
        let params = params_t5();
        for block in records.chunks(SPONGE_RATE) {
            for (s, (slot, billed)) in self.sponge[1..].iter_mut().zip(block) {
                *s += slot.element();
                self.billed[usize::from(slot.product)] += u128::from(*billed);
                self.count += 1;
            }
            params.permute(&mut self.sponge);
        }
    }

    /// The usage commitment of the records absorbed so far.
    pub fn usage_commitment(&self) -> Fr {
        let mut inputs = self.sponge.to_vec();
        inputs.push(Fr::from(self.count));
        poseidon_hash_with_domain(DOMAIN_USAGE, &inputs)
    }
}

/// Commitment of [`UsageState::initial`] under salt 0: the `state_in` of a first chunk.
pub fn initial_state_commitment() -> Fr {
    // A constant, but a Poseidon hash to compute: once per process.
    static INITIAL: std::sync::OnceLock<Fr> = std::sync::OnceLock::new();
    *INITIAL.get_or_init(|| UsageState::initial().commitment(Fr::zero()))
}

/// The usage commitment of records `(q, p)` (module docs). Refuses `q ≥ 2^48` or
/// `p ≥ MAX_PRODUCTS`. Billed quantities do not enter the commitment.
pub fn usage_commitment(records: &[(u64, u8)]) -> Result<Fr> {
    let slots = records
        .iter()
        .map(|&(quantity, product)| {
            let slot = Slot { quantity, product };
            slot.check().map(|()| (slot, 0))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut state = UsageState::initial();
    state.absorb(&slots);
    Ok(state.usage_commitment())
}

/// The usage commitment of TMF635 records under `tariff`: each record's quantity and
/// product index (rule 1 resolves the product), in the records' order. This is the value
/// both parties of a bilateral agree on for an interval's usage, and the public input a
/// rating proof is checked against.
pub fn usage_commitment_for(tariff: &Tariff, records: &[UsageRecord]) -> Result<Fr> {
    let slots = rate_slots(tariff, records)?;
    let mut state = UsageState::initial();
    state.absorb(&slots);
    Ok(state.usage_commitment())
}

// ---------------------------------------------------------------------------------------
// The chunk circuit
// ---------------------------------------------------------------------------------------

/// Private inputs of one chunk.
#[derive(Clone, Debug)]
pub struct ChunkWitness {
    /// [`tariff_to_fields`] of the tariff.
    pub tariff: Vec<Fr>,
    /// The chunk's records (at most `K`; the rest of the chunk is padding).
    pub records: Vec<Slot>,
    /// The state before the chunk and its salt.
    pub state_in: (UsageState, Fr),
    /// The salt of the state after the chunk.
    pub salt_out: Fr,
}

/// Rates up to `chunk_size` records (rules 1–2) and chains the usage state (module
/// docs). Public inputs, in order: `[tariff_commitment, state_in, state_out]`.
///
/// Cost: about 243 constraints per record (asserted by the tests as
/// [`CHUNK_CONSTRAINTS_PER_BLOCK`] per 4 records) plus a fixed ≈ 5 700 per chunk (tariff
/// and two state commitments).
#[derive(Clone, Debug)]
pub struct UsageChunkCircuit {
    /// `K`, a positive multiple of 4.
    pub chunk_size: usize,
    /// The private inputs; `None` for key generation.
    pub witness: Option<ChunkWitness>,
}

/// Constraints per block of 4 record slots of [`UsageChunkCircuit`]: 4 × 167 for the
/// records (rule 2, selection, sums, padding) plus 300 for the permutation and 5 for the
/// block selection; 243.25 per record.
pub const CHUNK_CONSTRAINTS_PER_BLOCK: usize = 4 * 167 + 305;

impl UsageChunkCircuit {
    /// A circuit without values, for key generation.
    pub fn blank(chunk_size: usize) -> Self {
        UsageChunkCircuit { chunk_size, witness: None }
    }

    /// The chunk's public inputs `[tariff_commitment, state_in, state_out]`, natively.
    pub fn public_inputs(&self) -> Result<[Fr; 3]> {
        let w = self.witness.as_ref().ok_or(Error::Synthesis(SynthesisError::AssignmentMissing))?;
        let out = self.state_out()?;
        Ok([
            poseidon_hash_with_domain(DOMAIN_TARIFF, &w.tariff),
            w.state_in.0.commitment(w.state_in.1),
            out.commitment(w.salt_out),
        ])
    }

    /// The state after the chunk, natively.
    pub fn state_out(&self) -> Result<UsageState> {
        let w = self.witness.as_ref().ok_or(Error::Synthesis(SynthesisError::AssignmentMissing))?;
        absorb_records(w.state_in.0, &w.tariff, &w.records)
    }

    fn check_shape(&self) -> Result<()> {
        check_records(self.chunk_size, self.witness.as_ref().map(|w| &w.records[..]))?;
        if let Some(w) = &self.witness {
            if w.tariff.len() != TARIFF_FIELDS {
                return Err(Error::Unsupported("chunk witness of the wrong shape".into()));
            }
        }
        Ok(())
    }
}

/// A chunk size is a positive multiple of the sponge rate (4, a power of two).
fn valid_chunk_size(chunk_size: usize) -> bool {
    chunk_size > 0 && chunk_size & (SPONGE_RATE - 1) == 0
}

/// Refuses a circuit size that is not a valid chunk size, and records that do not fit it
/// or are not valid slots.
fn check_records(chunk_size: usize, records: Option<&[Slot]>) -> Result<()> {
    if !valid_chunk_size(chunk_size) {
        return Err(Error::Unsupported(format!(
            "chunk size {chunk_size} is not a positive multiple of {SPONGE_RATE}"
        )));
    }
    let records = records.unwrap_or_default();
    if records.len() > chunk_size {
        return Err(Error::Unsupported(format!(
            "{} records do not fit a circuit of {chunk_size}",
            records.len()
        )));
    }
    records.iter().try_for_each(Slot::check)
}

/// `state` after `records` rated under `tariff` ([`tariff_to_fields`]), natively.
fn absorb_records(mut state: UsageState, tariff: &[Fr], records: &[Slot]) -> Result<UsageState> {
    let rated =
        records.iter().map(|s| Ok((*s, native_billed(tariff, *s)?))).collect::<Result<Vec<_>>>()?;
    state.absorb(&rated);
    Ok(state)
}

/// Reads a field element that encodes a `u64`.
fn fr_to_u64(x: Fr) -> Result<u64> {
    let big = x.into_bigint();
    if big.0[1..].iter().any(|limb| *limb != 0) {
        return Err(Error::OutOfRange { bits: 64 });
    }
    Ok(big.0[0])
}

/// `b(q)` from the tariff fields (rule 2).
fn native_billed(tariff: &[Fr], slot: Slot) -> Result<u64> {
    let j = usize::from(slot.product);
    let field = |offset| tariff.get(product_index(j, offset)).copied().map(fr_to_u64);
    let (first, then) = match (field(product_field::FIRST), field(product_field::THEN)) {
        (Some(f), Some(t)) => (f?, t?),
        _ => return Err(Error::Unsupported("tariff fields too short".into())),
    };
    let q = slot.quantity;
    if q > first && then == 0 {
        return Err(Error::DivisionByZero);
    }
    Ok(if q == 0 { 0 } else { first + native_steps(q, first, then) * then })
}

/// In-circuit state: sponge, billed sums, count.
struct StateVar {
    sponge: [FpVar<Fr>; SPONGE_WIDTH],
    billed: [FpVar<Fr>; MAX_PRODUCTS],
    count: FpVar<Fr>,
}

impl StateVar {
    fn alloc(
        cs: &ConstraintSystemRef<Fr>,
        state: Option<UsageState>,
    ) -> std::result::Result<Self, SynthesisError> {
        let fields = state.map(|s| s.fields());
        let mut vars = (0..SPONGE_WIDTH + MAX_PRODUCTS + 1)
            .map(|i| {
                FpVar::new_witness(cs.clone(), || {
                    fields.as_ref().map(|f| f[i]).ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?
            .into_iter();
        let mut next = || vars.next().ok_or(SynthesisError::Unsatisfiable);
        Ok(StateVar {
            sponge: [next()?, next()?, next()?, next()?, next()?],
            billed: [next()?, next()?, next()?, next()?],
            count: next()?,
        })
    }

    /// A state known to everybody (the initial one), as constants.
    fn constant(state: &UsageState) -> Self {
        let fields = state.fields();
        let c = |i: usize| FpVar::constant(fields[i]);
        StateVar {
            sponge: std::array::from_fn(c),
            billed: std::array::from_fn(|j| c(SPONGE_WIDTH + j)),
            count: c(SPONGE_WIDTH + MAX_PRODUCTS),
        }
    }

    fn commitment(&self, salt: &FpVar<Fr>) -> Result<FpVar<Fr>> {
        let mut inputs = vec![salt.clone()];
        inputs.extend(self.sponge.iter().cloned());
        inputs.extend(self.billed.iter().cloned());
        inputs.push(self.count.clone());
        poseidon_hash_with_domain_var(DOMAIN_STATE, &inputs)
    }
}

fn alloc_fields(
    cs: &ConstraintSystemRef<Fr>,
    values: Option<&Vec<Fr>>,
    n: usize,
) -> std::result::Result<Vec<FpVar<Fr>>, SynthesisError> {
    (0..n)
        .map(|i| {
            FpVar::new_witness(cs.clone(), || {
                values.and_then(|v| v.get(i).copied()).ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// `x_0 + Σ_{j≥1} s_j·(x_j − x_0)`: the one-hot selection of `x_p` (`MAX_PRODUCTS − 1`
/// constraints).
fn select_product(
    selectors: &[Boolean<Fr>],
    values: &[FpVar<Fr>],
) -> std::result::Result<FpVar<Fr>, SynthesisError> {
    let mut acc = values[0].clone();
    for (s, x) in selectors.iter().zip(&values[1..]) {
        acc += FpVar::from(s.clone()) * (x - &values[0]);
    }
    Ok(acc)
}

/// `k` of rule 2: the number of `then` steps after `first` (0 for `q ≤ first`).
fn native_steps(q: u64, first: u64, then: u64) -> u64 {
    if q <= first || then == 0 {
        0
    } else {
        (q - first).div_ceil(then)
    }
}

/// Rule 2 in-circuit: `b(q)` for a quantity witness `q` and the record's increment
/// `(first, then)` (module docs). Cost: about 150 constraints (three 48-bit checks).
fn billed_var(q: &FpVar<Fr>, first: &FpVar<Fr>, then: &FpVar<Fr>) -> Result<FpVar<Fr>> {
    let steps = || -> std::result::Result<Fr, SynthesisError> {
        let (q, f, t) =
            (fr_to_u64(q.value()?)?, fr_to_u64(first.value()?)?, fr_to_u64(then.value()?)?);
        Ok(Fr::from(native_steps(q, f, t)))
    };
    billed_var_with_steps(q, first, then, steps)
}

/// [`billed_var`] with a given (possibly dishonest) witness `k`; soundness tests feed
/// it wrong values.
fn billed_var_with_steps(
    q: &FpVar<Fr>,
    first: &FpVar<Fr>,
    then: &FpVar<Fr>,
    steps: impl FnOnce() -> std::result::Result<Fr, SynthesisError>,
) -> Result<FpVar<Fr>> {
    let cs = q.cs().or(first.cs()).or(then.cs());
    let z = q.is_eq(&FpVar::zero())?;
    let (k, _) = alloc_bits(cs, steps, QUANTITY_BITS)?;
    let b = FpVar::from(!&z) * (first + &k * then);
    // b ≥ q.
    enforce_bit_length(&(&b - q), QUANTITY_BITS)?;
    // k > 0: b − then < q; k = 0 and q ≠ 0: q ≥ 1.
    let nz = !k.is_eq(&FpVar::zero())?;
    let d2 = q - FpVar::one() + FpVar::from(z) - FpVar::from(nz) * (&b - then);
    enforce_bit_length(&d2, QUANTITY_BITS)?;
    Ok(b)
}

/// Allocates the tariff's fields and enforces that they open `commitment`
/// ([`tariff_commitment`]).
fn alloc_tariff(
    cs: &ConstraintSystemRef<Fr>,
    values: Option<&Vec<Fr>>,
    commitment: &FpVar<Fr>,
) -> Result<Vec<FpVar<Fr>>> {
    let tariff = alloc_fields(cs, values, TARIFF_FIELDS)?;
    commitment.enforce_equal(&poseidon_hash_with_domain_var(DOMAIN_TARIFF, &tariff)?)?;
    Ok(tariff)
}

/// Rules 1–2 on `chunk_size` record slots (`records` and padding): rates each record
/// under `tariff`, absorbs it into `state`'s usage sponge and adds its billed quantity to
/// its product's sum (module docs). Returns the state after the slots.
fn rate_records(
    cs: &ConstraintSystemRef<Fr>,
    tariff: &[FpVar<Fr>],
    state: StateVar,
    records: Option<&[Slot]>,
    chunk_size: usize,
) -> Result<StateVar> {
    let per_product = |offset| -> Vec<FpVar<Fr>> {
        (0..MAX_PRODUCTS).map(|j| tariff[product_index(j, offset)].clone()).collect()
    };
    let (firsts, thens) = (per_product(product_field::FIRST), per_product(product_field::THEN));
    let StateVar { mut sponge, mut billed, mut count } = state;
    let mut previous_active = Boolean::TRUE;
    let mut block: Vec<(FpVar<Fr>, Boolean<Fr>)> = Vec::with_capacity(SPONGE_RATE);
    for i in 0..chunk_size {
        let slot = records.map(|r| r.get(i).copied());
        let active = Boolean::new_witness(cs.clone(), || {
            slot.map(|s| s.is_some()).ok_or(SynthesisError::AssignmentMissing)
        })?;
        // Padding is a suffix: active ⇒ previous active.
        cs.enforce_constraint(active.lc(), lc!() + Variable::One - previous_active.lc(), lc!())?;
        let slot_value =
            || slot.ok_or(SynthesisError::AssignmentMissing).map(|s| s.unwrap_or_default());
        let selectors = (1..MAX_PRODUCTS)
            .map(|j| {
                Boolean::new_witness(cs.clone(), || {
                    slot_value().map(|s| usize::from(s.product) == j)
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let selected: FpVar<Fr> =
            selectors.iter().fold(FpVar::zero(), |acc, s| acc + FpVar::from(s.clone()));
        // At most one of s_1..s_3, so s_0 = 1 − Σ is a bit too.
        selected.mul_equals(&(FpVar::one() - &selected), &FpVar::zero())?;
        let p = selectors.iter().enumerate().fold(FpVar::zero(), |acc, (j, s)| {
            acc + FpVar::from(s.clone()) * Fr::from(j as u64 + 1)
        });
        let first = select_product(&selectors, &firsts)?;
        let then = select_product(&selectors, &thens)?;

        let q = FpVar::new_witness(cs.clone(), || slot_value().map(|s| Fr::from(s.quantity)))?;
        let b = billed_var(&q, &first, &then)?;
        // Padding slots are (q = 0, p = 0).
        let raw = &p + &q * Fr::from(8u64);
        FpVar::from(!&active).mul_equals(&raw, &FpVar::zero())?;
        let element = FpVar::from(active.clone()) + raw;

        // Q_p += s_p·b, with s_0's share the remainder.
        let mut rest = b.clone();
        for (j, s) in selectors.iter().enumerate() {
            let share = FpVar::from(s.clone()) * &b;
            billed[j + 1] += &share;
            rest -= share;
        }
        billed[0] += rest;
        count += FpVar::from(active.clone());

        block.push((element, active.clone()));
        previous_active = active;
        if block.len() == SPONGE_RATE {
            let block_active = block[0].1.clone();
            for (s, (e, _)) in sponge[1..].iter_mut().zip(&block) {
                *s += e;
            }
            let mut permuted = sponge.clone();
            params_t5().permute_var(&mut permuted)?;
            for (s, p) in sponge.iter_mut().zip(&permuted) {
                *s = select(&block_active, p, s)?;
            }
            block.clear();
        }
    }
    Ok(StateVar { sponge, billed, count })
}

impl ConstraintSynthesizer<Fr> for UsageChunkCircuit {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> std::result::Result<(), SynthesisError> {
        self.check_shape()?;
        let publics = match &self.witness {
            Some(_) => Some(self.public_inputs()?),
            None => None,
        };
        let public = |i: usize| {
            FpVar::new_input(cs.clone(), || {
                publics.map(|p| p[i]).ok_or(SynthesisError::AssignmentMissing)
            })
        };
        let (tariff_commitment, state_in_commitment, state_out_commitment) =
            (public(0)?, public(1)?, public(2)?);
        let w = self.witness.as_ref();

        let tariff = alloc_tariff(&cs, w.map(|w| &w.tariff), &tariff_commitment)?;

        // State in.
        let state_in = StateVar::alloc(&cs, w.map(|w| w.state_in.0))?;
        let salt_in = FpVar::new_witness(cs.clone(), || {
            w.map(|w| w.state_in.1).ok_or(SynthesisError::AssignmentMissing)
        })?;
        state_in_commitment.enforce_equal(&state_in.commitment(&salt_in)?)?;
        let state_out =
            rate_records(&cs, &tariff, state_in, w.map(|w| &w.records[..]), self.chunk_size)?;

        // State out.
        let salt_out = FpVar::new_witness(cs.clone(), || {
            w.map(|w| w.salt_out).ok_or(SynthesisError::AssignmentMissing)
        })?;
        state_out_commitment.enforce_equal(&state_out.commitment(&salt_out)?)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Witness builders
// ---------------------------------------------------------------------------------------

/// Rates `records` natively with `omni_core::rating` (rule 1 refuses unknown products
/// and units) and returns their slots with billed quantities.
pub fn rate_slots(tariff: &Tariff, records: &[UsageRecord]) -> Result<Vec<(Slot, u64)>> {
    tariff_to_fields(tariff)?;
    let mut totals = UsageTotals::new(tariff);
    let rated: Vec<RatedRecord> = totals.add_records(tariff, records).map_err(rating_error)?;
    rated
        .iter()
        .zip(records)
        .map(|(r, u)| {
            let product = u8::try_from(r.product_index)
                .ok()
                .filter(|p| usize::from(*p) < MAX_PRODUCTS)
                .ok_or(Error::OutOfRange { bits: 2 })?;
            let slot = Slot { quantity: u.quantity, product };
            slot.check()?;
            Ok((slot, r.billed_quantity))
        })
        .collect()
}

/// Splits rated records into chunks of `chunk_size` with the given salts (one per
/// chunk: the salt of its `state_out`; the first `state_in` has salt 0). Returns the
/// chunk circuits and the final state with its salt. At least one chunk is built, so
/// an empty interval still has a final state.
pub fn build_chunks(
    tariff: &Tariff,
    records: &[UsageRecord],
    chunk_size: usize,
    mut salt: impl FnMut() -> Fr,
) -> Result<(Vec<UsageChunkCircuit>, UsageState, Fr)> {
    let fields = tariff_to_fields(tariff)?;
    let slots = rate_slots(tariff, records)?;
    if !valid_chunk_size(chunk_size) {
        return Err(Error::Unsupported(format!("chunk size {chunk_size}")));
    }
    let mut state = (UsageState::initial(), Fr::zero());
    let mut circuits = Vec::new();
    let mut chunks: Vec<&[(Slot, u64)]> = slots.chunks(chunk_size).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for chunk in chunks {
        let salt_out = salt();
        let circuit = UsageChunkCircuit {
            chunk_size,
            witness: Some(ChunkWitness {
                tariff: fields.clone(),
                records: chunk.iter().map(|(s, _)| *s).collect(),
                state_in: state,
                salt_out,
            }),
        };
        let mut next = state.0;
        next.absorb(chunk);
        debug_assert_eq!(Ok(next), circuit.state_out());
        state = (next, salt_out);
        circuits.push(circuit);
    }
    Ok((circuits, state.0, state.1))
}

// ---------------------------------------------------------------------------------------
// The final circuit
// ---------------------------------------------------------------------------------------

/// What rules 3–10 need besides the usage state: the tariff, the claimed total and what
/// the proof binds it to. Shared by [`FinalCircuit`] and [`IntervalCircuit`].
#[derive(Clone, Debug)]
pub struct InvoiceWitness {
    /// [`tariff_to_fields`] of the tariff.
    pub tariff: Vec<Fr>,
    /// The blinding of the total's commitment.
    pub blinding: Scalar,
    /// The claimed total in micro-units (the rating engine's `Rating::total`).
    pub total: u64,
    /// Whether one-time fees are charged (`RatingOptions::include_one_time_fees`).
    pub include_one_time_fees: bool,
    /// The bilateral's pseudonym (public, bound to the proof).
    pub pseudonym: Fr,
    /// The billing interval's id (public, bound to the proof).
    pub interval: Fr,
}

/// Public inputs of rules 3–10, after the tariff commitment (and, in [`FinalCircuit`],
/// the state commitment): `[usage_commitment, total.x, total.y, pseudonym, interval,
/// include_one_time_fees]`.
const INVOICE_INPUTS: usize = 6;

impl InvoiceWitness {
    /// The invoice's public inputs for the usage state `state`, natively.
    fn public_inputs(&self, state: &UsageState) -> [Fr; INVOICE_INPUTS] {
        let [x, y] = PedersenCommitment::commit(self.total, &self.blinding).public_inputs();
        [
            state.usage_commitment(),
            x,
            y,
            self.pseudonym,
            self.interval,
            Fr::from(self.include_one_time_fees),
        ]
    }

    fn tariff_commitment(&self) -> Fr {
        poseidon_hash_with_domain(DOMAIN_TARIFF, &self.tariff)
    }

    fn check_shape(&self) -> Result<()> {
        if self.tariff.len() != TARIFF_FIELDS {
            return Err(Error::Unsupported("invoice witness of the wrong shape".into()));
        }
        Ok(())
    }
}

/// Private inputs of the final circuit.
#[derive(Clone, Debug)]
pub struct FinalWitness {
    /// The tariff, the total and what it is bound to.
    pub invoice: InvoiceWitness,
    /// The state after the last chunk.
    pub state: UsageState,
    /// That state's salt.
    pub salt: Fr,
}

/// Rules 3–10 on the state of the last chunk: proves that the committed total is the
/// rating of the committed usage under the committed tariff.
///
/// Public inputs, in order ([`FinalCircuit::public_inputs`]): `[tariff_commitment,
/// state_commitment, usage_commitment, total.x, total.y, pseudonym, interval,
/// include_one_time_fees]`, where `total` is the Pedersen commitment `total·G + r·H`.
#[derive(Clone, Debug, Default)]
pub struct FinalCircuit {
    /// The private inputs; `None` for key generation.
    pub witness: Option<FinalWitness>,
}

/// Constraints of [`FinalCircuit`] (asserted by the tests).
pub const FINAL_CONSTRAINTS: usize = 10_734;

/// Number of public inputs of [`FinalCircuit`].
pub const FINAL_PUBLIC_INPUTS: usize = 2 + INVOICE_INPUTS;

/// Width of a line's exact charge `N_p` (< 2^64 · 2^40) and of their sum.
const CHARGE_BITS: usize = 106;
/// Width of subtotals, discounts, nets and totals (results above `i64::MAX` are refused
/// by the rating engine).
const AMOUNT_BITS: usize = 64;
/// Width of tier bounds (at most [`UNBOUNDED`] = 2^64).
const BOUND_BITS: usize = CHARGEABLE_BITS + 1;
/// Width of `amount·bps` products (`2^64 · 10 000 < 2^78`).
const BPS_PRODUCT_BITS: usize = AMOUNT_BITS + 14;

impl FinalCircuit {
    /// The public inputs, natively, in the order of the circuit.
    pub fn public_inputs(&self) -> Result<[Fr; FINAL_PUBLIC_INPUTS]> {
        let w = self.witness.as_ref().ok_or(Error::Synthesis(SynthesisError::AssignmentMissing))?;
        let mut out = [Fr::zero(); FINAL_PUBLIC_INPUTS];
        out[0] = w.invoice.tariff_commitment();
        out[1] = w.state.commitment(w.salt);
        out[2..].copy_from_slice(&w.invoice.public_inputs(&w.state));
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// The interval circuit
// ---------------------------------------------------------------------------------------

/// Private inputs of the interval circuit.
#[derive(Clone, Debug)]
pub struct IntervalWitness {
    /// The tariff, the total and what it is bound to.
    pub invoice: InvoiceWitness,
    /// The interval's records (at most the circuit's `chunk_size`).
    pub records: Vec<Slot>,
}

/// A whole billing interval of at most `chunk_size` records in one proof: the chunk
/// circuit's rules 1–2 from the initial state, then the final circuit's rules 3–10 on the
/// state they reach, with no state commitment between them. Most invoices fit one chunk,
/// and their rating proof is then this one Groth16 proof instead of a chunk proof and a
/// final proof: half the work for every verifier (each registry validator verifies every
/// proof).
///
/// Public inputs, in order ([`IntervalCircuit::public_inputs`]): `[tariff_commitment,
/// usage_commitment, total.x, total.y, pseudonym, interval, include_one_time_fees]`.
#[derive(Clone, Debug)]
pub struct IntervalCircuit {
    /// `K`, a positive multiple of 4 (the chunk size of the key set).
    pub chunk_size: usize,
    /// The private inputs; `None` for key generation.
    pub witness: Option<IntervalWitness>,
}

/// Number of public inputs of [`IntervalCircuit`].
pub const INTERVAL_PUBLIC_INPUTS: usize = 1 + INVOICE_INPUTS;

impl IntervalCircuit {
    /// A circuit without values, for key generation.
    pub fn blank(chunk_size: usize) -> Self {
        IntervalCircuit { chunk_size, witness: None }
    }

    /// The state after the interval's records, natively.
    pub fn state(&self) -> Result<UsageState> {
        let w = self.witness.as_ref().ok_or(Error::Synthesis(SynthesisError::AssignmentMissing))?;
        absorb_records(UsageState::initial(), &w.invoice.tariff, &w.records)
    }

    /// The public inputs, natively, in the order of the circuit.
    pub fn public_inputs(&self) -> Result<[Fr; INTERVAL_PUBLIC_INPUTS]> {
        let w = self.witness.as_ref().ok_or(Error::Synthesis(SynthesisError::AssignmentMissing))?;
        let mut out = [Fr::zero(); INTERVAL_PUBLIC_INPUTS];
        out[0] = w.invoice.tariff_commitment();
        out[1..].copy_from_slice(&w.invoice.public_inputs(&self.state()?));
        Ok(out)
    }

    fn check_shape(&self) -> Result<()> {
        check_records(self.chunk_size, self.witness.as_ref().map(|w| &w.records[..]))?;
        if let Some(w) = &self.witness {
            w.invoice.check_shape()?;
        }
        Ok(())
    }
}

/// One-hot bits of a rounding mode code (0 Up, 1 Down, 2 HalfUp, 3 HalfEven), bound to
/// the code: `[up, half_up, half_even]` (down is the rest). 5 constraints.
fn mode_bits(code: &FpVar<Fr>) -> std::result::Result<[Boolean<Fr>; 3], SynthesisError> {
    let cs = code.cs();
    let value = code.value();
    let bit = |c: u64| {
        Boolean::new_witness(cs.clone(), || {
            value.map(|v| v == Fr::from(c)).map_err(|_| SynthesisError::AssignmentMissing)
        })
    };
    let (up, half_up, half_even) = (bit(0)?, bit(2)?, bit(3)?);
    let sum =
        FpVar::from(up.clone()) + FpVar::from(half_up.clone()) + FpVar::from(half_even.clone());
    sum.mul_equals(&(FpVar::one() - &sum), &FpVar::zero())?;
    // code = 1·down + 2·half_up + 3·half_even, down = 1 − sum.
    let recomposed = FpVar::one() - &sum
        + FpVar::from(half_up.clone()) * Fr::from(2u64)
        + FpVar::from(half_even.clone()) * Fr::from(3u64);
    code.enforce_equal(&recomposed)?;
    Ok([up, half_up, half_even])
}

/// `round(x, d)` (rating notation) for `x < 2^x_bits`, an even constant `d` and the
/// rounding mode given by its one-hot bits.
fn round_by_mode(
    x: &FpVar<Fr>,
    x_bits: usize,
    d: u64,
    [up, half_up, half_even]: &[Boolean<Fr>; 3],
) -> Result<FpVar<Fr>> {
    let dm = divmod_var(x, x_bits, &FpVar::constant(Fr::from(d)), 0)?;
    let r_bits = (u64::BITS - (d - 1).leading_zeros()) as usize;
    let half = FpVar::constant(Fr::from(d / 2));
    let nonzero = !dm.remainder.is_eq(&FpVar::zero())?;
    let at_least_half = is_less_or_equal(&half, &dm.remainder, r_bits)?;
    let above_half = is_less_than(&half, &dm.remainder, r_bits)?;
    let exactly_half = FpVar::from(at_least_half.clone()) - FpVar::from(above_half.clone());
    let odd = dm.quotient_bits.first().cloned().unwrap_or(Boolean::FALSE);
    let even_up = FpVar::from(above_half) + exactly_half * FpVar::from(odd);
    let step = FpVar::from(up.clone()) * FpVar::from(nonzero)
        + FpVar::from(half_up.clone()) * FpVar::from(at_least_half)
        + FpVar::from(half_even.clone()) * even_up;
    Ok(dm.quotient + step)
}

/// Rules 3 and 4 for one product: the exact charge `N_p` in nano-units from its billed
/// sum `Q_p` (proven `< 2^64`) and its tariff fields.
fn line_charge(billed: &FpVar<Fr>, fields: &[FpVar<Fr>]) -> Result<FpVar<Fr>> {
    let cs = billed.cs();
    let f = |offset: usize| fields[offset].clone();
    enforce_bit_length(billed, CHARGEABLE_BITS)?;
    let free = gadgets::min(billed, &f(product_field::FREE), CHARGEABLE_BITS)?;
    let c = billed - free;

    // Pricing kind, one-hot: graduated (1), package (3); flat (0) and volume (2) share
    // the volume formula (a flat price is a single unbounded tier).
    let kind = f(product_field::KIND);
    let kind_value = kind.value();
    let bit = |code: u64| {
        Boolean::new_witness(cs.clone(), || {
            kind_value.map(|v| v == Fr::from(code)).map_err(|_| SynthesisError::AssignmentMissing)
        })
    };
    let (graduated, volume, package) = (bit(1)?, bit(2)?, bit(3)?);
    let sum =
        FpVar::from(graduated.clone()) + FpVar::from(volume.clone()) + FpVar::from(package.clone());
    sum.mul_equals(&(FpVar::one() - &sum), &FpVar::zero())?;
    let recomposed = FpVar::from(graduated.clone())
        + FpVar::from(volume) * Fr::from(2u64)
        + FpVar::from(package.clone()) * Fr::from(3u64);
    kind.enforce_equal(&recomposed)?;

    let (u1, u2) = (f(product_field::BOUND1), f(product_field::BOUND2));
    let prices =
        [f(product_field::PRICE1), f(product_field::PRICE1 + 1), f(product_field::PRICE1 + 2)];
    // Graduated: Σ price_i · clamp(C − u_{i−1}, 0, u_i − u_{i−1}).
    let x1 = gadgets::min(&c, &u1, BOUND_BITS)?;
    let x2 = gadgets::min(&gadgets::max(&c, &u1, BOUND_BITS)?, &u2, BOUND_BITS)? - &u1;
    let x3 = gadgets::max(&c, &u2, BOUND_BITS)? - &u2;
    let graduated_charge = &prices[0] * x1 + &prices[1] * x2 + &prices[2] * x3;
    // Volume (and flat): C · price of the first tier with C ≤ u_i.
    let in1 = is_less_or_equal(&c, &u1, BOUND_BITS)?;
    let in2 = is_less_or_equal(&c, &u2, BOUND_BITS)?;
    let price = select(&in1, &prices[0], &select(&in2, &prices[1], &prices[2])?)?;
    let volume_charge = &c * price;
    // Package: ⌈C / block⌉ · price.
    let blocks = round_div_var(
        &c,
        CHARGEABLE_BITS,
        &f(product_field::BLOCK),
        QUANTITY_BITS,
        RoundingMode::Up,
    )?;
    let package_charge = blocks * &prices[0];

    Ok(&volume_charge
        + FpVar::from(graduated) * (graduated_charge - &volume_charge)
        + FpVar::from(package) * (package_charge - &volume_charge))
}

/// Allocates the public inputs of a circuit whose native values are `publics` (`None`
/// for key generation).
fn alloc_inputs<const N: usize>(
    cs: &ConstraintSystemRef<Fr>,
    publics: Option<[Fr; N]>,
) -> std::result::Result<Vec<FpVar<Fr>>, SynthesisError> {
    (0..N)
        .map(|i| {
            FpVar::new_input(cs.clone(), || {
                publics.map(|p| p[i]).ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// Rules 3–10 (module docs) on `state`: enforces that `inputs` ([`INVOICE_INPUTS`] of
/// them) are `state`'s usage commitment and the commitment to the total it rates to under
/// `tariff`, with the invoice's blinding, pseudonym, interval and one-time fee option.
fn finish(
    cs: &ConstraintSystemRef<Fr>,
    tariff: &[FpVar<Fr>],
    state: &StateVar,
    inputs: &[FpVar<Fr>],
    invoice: Option<&InvoiceWitness>,
) -> Result<()> {
    let [usage_commitment, total_x, total_y, pseudonym, interval, one_time_flag] = inputs else {
        return Err(Error::Unsupported(format!("{} invoice inputs", inputs.len())));
    };
    let mut usage_inputs = state.sponge.to_vec();
    usage_inputs.push(state.count.clone());
    usage_commitment.enforce_equal(&poseidon_hash_with_domain_var(DOMAIN_USAGE, &usage_inputs)?)?;

    let global = |offset: usize| tariff[global_index(offset)].clone();
    let mode = mode_bits(&global(global_field::MODE))?;
    // Scope: 1 PerLine, 2 PerInvoice.
    let scope = global(global_field::SCOPE);
    let scope_value = scope.value();
    let per_invoice = Boolean::new_witness(cs.clone(), || {
        scope_value.map(|v| v == Fr::from(2u64)).map_err(|_| SynthesisError::AssignmentMissing)
    })?;
    scope.enforce_equal(&(FpVar::from(per_invoice.clone()) + FpVar::one()))?;

    // Rules 3–5.
    let mut exact_sum = FpVar::zero();
    let mut lines_sum = FpVar::zero();
    for (j, billed) in state.billed.iter().enumerate() {
        let fields = &tariff[product_index(j, 0)..product_index(j, PRODUCT_FIELDS)];
        let n = line_charge(billed, fields)?;
        lines_sum += round_by_mode(&n, CHARGE_BITS, 1000, &mode)?;
        exact_sum += n;
    }
    let invoice_rounded = round_by_mode(&exact_sum, CHARGE_BITS, 1000, &mode)?;
    let usage = select(&per_invoice, &invoice_rounded, &lines_sum)?;

    // Rules 6–10.
    one_time_flag.mul_equals(&(FpVar::one() - one_time_flag), &FpVar::zero())?;
    let fees = global(global_field::RECURRING) + one_time_flag * global(global_field::ONE_TIME);
    let subtotal = usage + fees;
    enforce_bit_length(&subtotal, AMOUNT_BITS)?;
    let t1 = global(global_field::THRESHOLD1);
    let t2 = global(global_field::THRESHOLD1 + 2);
    let reached1 = is_less_or_equal(&t1, &subtotal, AMOUNT_BITS)?;
    let reached2 = is_less_or_equal(&t2, &subtotal, AMOUNT_BITS)?;
    let bps = select(
        &reached2,
        &global(global_field::THRESHOLD1 + 3),
        &select(&reached1, &global(global_field::THRESHOLD1 + 1), &FpVar::zero())?,
    )?;
    let discount = round_by_mode(&(&subtotal * bps), BPS_PRODUCT_BITS, 10_000, &mode)?;
    let discounted = &subtotal - discount;
    let minimum = global(global_field::MINIMUM);
    let true_up = &minimum - gadgets::min(&minimum, &discounted, AMOUNT_BITS)?;
    let net = discounted + true_up;
    let tax = round_by_mode(&(&net * global(global_field::TAX)), BPS_PRODUCT_BITS, 10_000, &mode)?;
    let total = net + tax;

    // The total's commitment, against the public one.
    let blinding = alloc_blinding(cs.clone(), || {
        invoice.map(|w| w.blinding).ok_or(SynthesisError::AssignmentMissing)
    })?;
    let point = commit_var(&total, &blinding)?;
    total_x.enforce_equal(&point.x)?;
    total_y.enforce_equal(&point.y)?;

    // The pseudonym and the interval take part in no computation; one constraint each
    // makes their binding explicit (Groth16 binds every public input anyway).
    for input in [pseudonym, interval] {
        let lc = crate::gadgets::lc_of(input);
        cs.enforce_constraint(lc.clone(), lc!() + Variable::One, lc)?;
    }
    Ok(())
}

impl ConstraintSynthesizer<Fr> for FinalCircuit {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> std::result::Result<(), SynthesisError> {
        let w = self.witness.as_ref();
        if let Some(w) = w {
            w.invoice.check_shape()?;
        }
        let inputs = alloc_inputs(&cs, w.map(|_| self.public_inputs()).transpose()?)?;
        let invoice = w.map(|w| &w.invoice);
        let tariff = alloc_tariff(&cs, invoice.map(|i| &i.tariff), &inputs[0])?;
        let state = StateVar::alloc(&cs, w.map(|w| w.state))?;
        let salt = FpVar::new_witness(cs.clone(), || {
            w.map(|w| w.salt).ok_or(SynthesisError::AssignmentMissing)
        })?;
        inputs[1].enforce_equal(&state.commitment(&salt)?)?;
        finish(&cs, &tariff, &state, &inputs[2..], invoice)?;
        Ok(())
    }
}

impl ConstraintSynthesizer<Fr> for IntervalCircuit {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> std::result::Result<(), SynthesisError> {
        self.check_shape()?;
        let w = self.witness.as_ref();
        let inputs = alloc_inputs(&cs, w.map(|_| self.public_inputs()).transpose()?)?;
        let invoice = w.map(|w| &w.invoice);
        let tariff = alloc_tariff(&cs, invoice.map(|i| &i.tariff), &inputs[0])?;
        let state = rate_records(
            &cs,
            &tariff,
            StateVar::constant(&UsageState::initial()),
            w.map(|w| &w.records[..]),
            self.chunk_size,
        )?;
        finish(&cs, &tariff, &state, &inputs[1..], invoice)?;
        Ok(())
    }
}

/// The invoice part of a rating witness for `records` rated under `tariff`: the expected
/// total comes from `omni_core::rating::rate`.
fn invoice_witness(
    tariff: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
    blinding: Scalar,
    pseudonym: Fr,
    interval: Fr,
) -> Result<InvoiceWitness> {
    let fields = tariff_to_fields(tariff)?;
    let (rating, _) = omni_core::rating::rate(tariff, records, options).map_err(rating_error)?;
    let total = u64::try_from(rating.total)
        .map_err(|_| Error::Rating(format!("negative total {}", rating.total)))?;
    Ok(InvoiceWitness {
        tariff: fields,
        blinding,
        total,
        include_one_time_fees: options.include_one_time_fees,
        pseudonym,
        interval,
    })
}

/// Builds the final circuit's witness for `records` rated under `tariff`: the expected
/// total comes from `omni_core::rating::rate`. `state` and `salt` are the last chunk's
/// (from [`build_chunks`]).
#[allow(clippy::too_many_arguments)]
pub fn build_final(
    tariff: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
    state: UsageState,
    salt: Fr,
    blinding: Scalar,
    pseudonym: Fr,
    interval: Fr,
) -> Result<FinalCircuit> {
    if state.count != records.len() as u64 {
        return Err(Error::Unsupported("state does not hold these records".into()));
    }
    let invoice = invoice_witness(tariff, records, options, blinding, pseudonym, interval)?;
    Ok(FinalCircuit { witness: Some(FinalWitness { invoice, state, salt }) })
}

/// Builds the interval circuit of `chunk_size` for `records` rated under `tariff` (at
/// most `chunk_size` of them): the expected total comes from `omni_core::rating::rate`.
pub fn build_interval(
    tariff: &Tariff,
    records: &[UsageRecord],
    options: &RatingOptions,
    chunk_size: usize,
    blinding: Scalar,
    pseudonym: Fr,
    interval: Fr,
) -> Result<IntervalCircuit> {
    let slots = rate_slots(tariff, records)?;
    let invoice = invoice_witness(tariff, records, options, blinding, pseudonym, interval)?;
    let circuit = IntervalCircuit {
        chunk_size,
        witness: Some(IntervalWitness {
            invoice,
            records: slots.into_iter().map(|(s, _)| s).collect(),
        }),
    };
    circuit.check_shape()?;
    Ok(circuit)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

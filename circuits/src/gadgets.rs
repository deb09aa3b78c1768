//! Integer gadgets over BN254 `Fr`: range checks, comparisons, division with remainder,
//! `min`/`max`, selection and the four rounding modes of a tariff, with their native
//! twins.
//!
//! # Integers in a prime field
//!
//! A circuit integer is a field element proven to lie in `[0, 2^n)`. As long as every
//! intermediate value stays below the modulus p ≈ 2^253.6, field arithmetic *is*
//! integer arithmetic; each gadget takes the bit widths of its operands and refuses
//! ([`Error::BitWidth`]) widths for which it could wrap. No width may exceed
//! [`MAX_BITS`].
//!
//! Gadgets that take a bit width `n` for an operand *assume* that operand is already
//! known to be `< 2^n` (because it was allocated with [`alloc_bits`], range-checked,
//! or is a constant) unless their docs say they prove it.
//!
//! # Costs
//!
//! Every bit costs one booleanity constraint `b·(1 − b) = 0`; the recomposition
//! `x = Σ bᵢ·2^i` is a linear combination and costs nothing when it can *define* a
//! value (a witness allocated by its bits). When it must be *checked* against an
//! existing variable, one bit is not allocated but derived from the recomposition, and
//! its booleanity constraint then checks the recomposition too: `n` constraints in
//! total for `n` bits. Costs below are for variable operands; constants cost less.
//!
//! | gadget | constraints |
//! |---|---|
//! | [`alloc_bits`] (new n-bit witness) | n |
//! | [`enforce_bit_length`] | n (1 if n = 0) |
//! | [`range_check`] (returns all n bits) | n + 1 |
//! | [`is_less_than`], [`is_less_or_equal`] | n + 1 |
//! | [`enforce_less_than`], [`enforce_less_or_equal`] | n |
//! | [`min`], [`max`] | n + 2 |
//! | [`select`] / [`select_constant`] | 1 / 0 |
//! | [`divmod_var`], constant d = 2^k | q + k |
//! | [`divmod_var`], other constant d | q + 2·⌈log₂ d⌉ |
//! | [`divmod_var`], witness d of `d_bits` | x_bits + 2·d_bits + 1 |
//! | [`round_div_var`] | one `divmod_var` (divisor 2d for the half modes), + 3 for `HalfEven` with a witness or even d |
//!
//! where `q` is the quotient's width (≤ x_bits, smaller for large constant divisors).

use std::ops::Range;

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, BigInteger256, Field, One, PrimeField, Zero};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{
        fp::{AllocatedFp, FpVar},
        FieldVar,
    },
    select::CondSelectGadget,
    R1CSVar,
};
use ark_relations::{
    lc,
    r1cs::{ConstraintSystemRef, LinearCombination, Namespace, SynthesisError, Variable},
};

use crate::{Error, Result};

/// Largest bit width of any integer the gadgets handle. Sums and products the gadgets
/// form are bounded so they stay below 2^253 < p.
pub const MAX_BITS: usize = 252;

/// The rounding modes of a tariff, the rating engine's own type (one concept, one name).
pub use omni_core::tariff::RoundingMode;

// ---------------------------------------------------------------------------------------
// Native twins
// ---------------------------------------------------------------------------------------

/// Integer division with remainder: `(x / d, x % d)`.
pub fn divmod(x: u128, d: u128) -> Result<(u128, u128)> {
    if d == 0 {
        return Err(Error::DivisionByZero);
    }
    Ok((x / d, x % d))
}

/// `x / d` rounded to an integer by `mode`: the rating engine's
/// `omni_core::rating::round_div`, checked (`d = 0` is an error) and free of overflow for
/// every `u128` input.
pub fn round_div(x: u128, d: u128, mode: RoundingMode) -> Result<u128> {
    let (q, r) = divmod(x, d)?;
    // Compare r with d − r instead of 2r with d: 2r could overflow u128.
    let round_up = match mode {
        RoundingMode::Down => false,
        RoundingMode::Up => r != 0,
        RoundingMode::HalfUp => r >= d - r,
        RoundingMode::HalfEven => r > d - r || (r == d - r && q % 2 == 1),
    };
    Ok(q + u128::from(round_up))
}

// ---------------------------------------------------------------------------------------
// Low-level helpers
// ---------------------------------------------------------------------------------------

fn check_width(what: &'static str, bits: usize) -> Result<()> {
    if bits > MAX_BITS {
        return Err(Error::BitWidth { what, bits, max: MAX_BITS });
    }
    Ok(())
}

fn pow2(i: usize) -> Fr {
    Fr::from(2u64).pow([i as u64])
}

fn bit_of(value: Fr, i: usize) -> bool {
    value.into_bigint().get_bit(i)
}

fn bit_length(value: Fr) -> usize {
    value.into_bigint().num_bits() as usize
}

fn fits(value: Fr, bits: usize) -> bool {
    bit_length(value) <= bits
}

/// The linear combination of an `FpVar` (a constant becomes a multiple of `One`).
pub(crate) fn lc_of(x: &FpVar<Fr>) -> LinearCombination<Fr> {
    match x {
        FpVar::Constant(c) => lc!() + (*c, Variable::One),
        FpVar::Var(v) => lc!() + v.variable,
    }
}

/// `Σ bits[i]·2^(offset + i)`.
fn weighted_bits(bits: &[Boolean<Fr>], offset: usize) -> LinearCombination<Fr> {
    let mut lc = lc!();
    let mut power = pow2(offset);
    for bit in bits {
        lc = lc + (power, bit.lc());
        power.double_in_place();
    }
    lc
}

/// An `FpVar` standing for a linear combination; no constraint.
pub(crate) fn fp_from_lc(
    cs: &ConstraintSystemRef<Fr>,
    lc: LinearCombination<Fr>,
    value: Option<Fr>,
) -> Result<FpVar<Fr>> {
    let variable = cs.new_lc(lc)?;
    Ok(FpVar::Var(AllocatedFp::new(value, variable, cs.clone())))
}

/// Booleanity of a linear combination: `u·(1 − u) = 0`. One constraint.
fn enforce_boolean_lc(cs: &ConstraintSystemRef<Fr>, u: LinearCombination<Fr>) -> Result<()> {
    let one_minus_u = LinearCombination::from(Variable::One) - &u;
    cs.enforce_constraint(u, one_minus_u, lc!())?;
    Ok(())
}

/// `a ∧ b`. Cost: 1 constraint, 0 if either is a constant. (arkworks' `&` operator
/// does the same but unwraps internally.)
pub(crate) fn and(a: &Boolean<Fr>, b: &Boolean<Fr>) -> Result<Boolean<Fr>> {
    match (a, b) {
        (Boolean::Var(x), Boolean::Var(y)) => Ok(Boolean::Var(x.and(y)?)),
        // With a constant operand the operator only pattern-matches.
        _ => Ok(a & b),
    }
}

/// Allocates boolean witnesses for bits `range` of `value`, one constraint each. A
/// value wider than the range is truncated, so the caller's recomposition check fails.
fn witness_bits(
    cs: &ConstraintSystemRef<Fr>,
    value: std::result::Result<Fr, SynthesisError>,
    range: Range<usize>,
) -> Result<Vec<Boolean<Fr>>> {
    range
        .map(|i| Boolean::new_witness(cs.clone(), || value.map(|v| bit_of(v, i))))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::from)
}

/// The integer the little-endian `bits` stand for, if they are assigned.
fn bits_value(bits: &[Boolean<Fr>]) -> Option<Fr> {
    bits.iter()
        .rev()
        .try_fold(Fr::zero(), |acc, bit| Some(acc.double() + Fr::from(bit.value().ok()?)))
}

fn constant_bits(value: Fr, bits: usize) -> Result<Vec<Boolean<Fr>>> {
    if !fits(value, bits) {
        return Err(Error::OutOfRange { bits });
    }
    Ok((0..bits).map(|i| Boolean::constant(bit_of(value, i))).collect())
}

/// The constraint system of the first non-constant variable, if any.
fn cs_of(vars: &[&FpVar<Fr>]) -> ConstraintSystemRef<Fr> {
    vars.iter().fold(ConstraintSystemRef::None, |cs, v| cs.or(v.cs()))
}

/// `(x / d, x % d)` of field elements read as integers, or `None` for `d = 0`.
fn fr_divmod(x: Fr, d: Fr) -> Option<(Fr, Fr)> {
    let divisor = d.into_bigint();
    if divisor.is_zero() {
        return None;
    }
    // Schoolbook binary long division; values are < 2^254, so no step overflows.
    let dividend = x.into_bigint();
    let mut remainder = BigInteger256::from(0u64);
    let mut quotient_bits = vec![false; 256];
    for i in (0..256).rev() {
        remainder.mul2();
        if dividend.get_bit(i) {
            remainder.add_with_carry(&BigInteger256::from(1u64));
        }
        if remainder >= divisor {
            remainder.sub_with_borrow(&divisor);
            quotient_bits[i] = true;
        }
    }
    quotient_bits.reverse();
    let quotient = BigInteger256::from_bits_be(&quotient_bits);
    Some((Fr::from_bigint(quotient)?, Fr::from_bigint(remainder)?))
}

// ---------------------------------------------------------------------------------------
// Range checks
// ---------------------------------------------------------------------------------------

/// Allocates a new witness `x < 2^n` by its little-endian bits and returns `x` (the
/// linear combination of the bits) with the bits. Cost: `n` constraints.
///
/// The cheapest way to bring a bounded integer into a circuit. Fails with
/// [`Error::OutOfRange`] if the assigned value does not fit.
pub fn alloc_bits(
    cs: impl Into<Namespace<Fr>>,
    value: impl FnOnce() -> std::result::Result<Fr, SynthesisError>,
    n: usize,
) -> Result<(FpVar<Fr>, Vec<Boolean<Fr>>)> {
    check_width("alloc_bits", n)?;
    let cs = cs.into().cs();
    let value =
        if cs.is_in_setup_mode() { Err(SynthesisError::AssignmentMissing) } else { value() };
    if let Ok(v) = value {
        if !fits(v, n) {
            return Err(Error::OutOfRange { bits: n });
        }
    }
    let bits = witness_bits(&cs, value, 0..n)?;
    let var = fp_from_lc(&cs, weighted_bits(&bits, 0), value.ok())?;
    Ok((var, bits))
}

/// Proves `x < 2^n` and returns its `n` little-endian bits. Cost: `n + 1` constraints
/// (`n` bits and the recomposition check; use [`enforce_bit_length`] when the bits are
/// not needed, or [`alloc_bits`] when `x` is a new witness).
pub fn range_check(x: &FpVar<Fr>, n: usize) -> Result<Vec<Boolean<Fr>>> {
    check_width("range_check", n)?;
    let cs = match x {
        FpVar::Constant(c) => return constant_bits(*c, n),
        FpVar::Var(v) => v.cs.clone(),
    };
    let bits = witness_bits(&cs, x.value(), 0..n)?;
    cs.enforce_constraint(lc_of(x) - weighted_bits(&bits, 0), lc!() + Variable::One, lc!())?;
    Ok(bits)
}

/// Proves `x < 2^n`. Cost: `n` constraints (1 for `n = 0`, proving `x = 0`).
///
/// Bits 1..n are allocated; bit 0 is the linear combination `x − Σ_{i≥1} bᵢ·2^i`, and
/// its booleanity constraint is the only other one.
pub fn enforce_bit_length(x: &FpVar<Fr>, n: usize) -> Result<()> {
    check_width("enforce_bit_length", n)?;
    let cs = match x {
        FpVar::Constant(c) => return constant_bits(*c, n).map(drop),
        FpVar::Var(v) => v.cs.clone(),
    };
    if n == 0 {
        x.enforce_equal(&FpVar::zero())?;
        return Ok(());
    }
    let high = witness_bits(&cs, x.value(), 1..n)?;
    enforce_boolean_lc(&cs, lc_of(x) - weighted_bits(&high, 1))
}

// ---------------------------------------------------------------------------------------
// Comparisons, min, max, select
// ---------------------------------------------------------------------------------------

/// Bit `n` of `δ = b − a + 2^n − strict`, i.e. `a < b` (strict) or `a ≤ b`.
fn compare(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize, strict: bool) -> Result<Boolean<Fr>> {
    check_width("comparison operand", n)?;
    if n == 0 {
        // Both operands are 0.
        return Ok(Boolean::constant(!strict));
    }
    let offset = pow2(n) - if strict { Fr::one() } else { Fr::zero() };
    let delta = b - a + offset;
    let cs = match &delta {
        FpVar::Constant(d) => return Ok(Boolean::constant(bit_of(*d, n))),
        FpVar::Var(v) => v.cs.clone(),
    };
    // For a, b < 2^n, δ ∈ [0, 2^(n+1)); its top bit is the answer. Bit 0 is derived.
    let value = delta.value();
    let top = Boolean::new_witness(cs.clone(), || value.map(|v| bit_of(v, n)))?;
    let middle = witness_bits(&cs, value, 1..n)?;
    let bit0 = lc_of(&delta) - (pow2(n), top.lc()) - weighted_bits(&middle, 1);
    enforce_boolean_lc(&cs, bit0)?;
    Ok(top)
}

/// `a < b` for `a, b < 2^n`. Cost: `n + 1` constraints.
pub fn is_less_than(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<Boolean<Fr>> {
    compare(a, b, n, true)
}

/// `a ≤ b` for `a, b < 2^n`. Cost: `n + 1` constraints.
pub fn is_less_or_equal(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<Boolean<Fr>> {
    compare(a, b, n, false)
}

/// Proves `a < b` for `a, b < 2^n`, as `b − a − 1 ∈ [0, 2^n)`. Cost: `n` constraints.
pub fn enforce_less_than(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<()> {
    enforce_bit_length(&(b - a - Fr::one()), n)
}

/// Proves `a ≤ b` for `a, b < 2^n`, as `b − a ∈ [0, 2^n)`. Cost: `n` constraints.
pub fn enforce_less_or_equal(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<()> {
    enforce_bit_length(&(b - a), n)
}

/// The smaller of `a, b < 2^n`. Cost: `n + 2` constraints.
pub fn min(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<FpVar<Fr>> {
    select(&is_less_than(a, b, n)?, a, b)
}

/// The larger of `a, b < 2^n`. Cost: `n + 2` constraints.
pub fn max(a: &FpVar<Fr>, b: &FpVar<Fr>, n: usize) -> Result<FpVar<Fr>> {
    select(&is_less_than(a, b, n)?, b, a)
}

/// `if cond { if_true } else { if_false }`. Cost: 1 constraint.
pub fn select(cond: &Boolean<Fr>, if_true: &FpVar<Fr>, if_false: &FpVar<Fr>) -> Result<FpVar<Fr>> {
    Ok(FpVar::conditionally_select(cond, if_true, if_false)?)
}

/// `if cond { if_true } else { if_false }` for constants: the linear combination
/// `if_false + cond·(if_true − if_false)`. Cost: 0 constraints.
pub fn select_constant(cond: &Boolean<Fr>, if_true: Fr, if_false: Fr) -> FpVar<Fr> {
    FpVar::from(cond.clone()) * (if_true - if_false) + if_false
}

// ---------------------------------------------------------------------------------------
// Division and rounding
// ---------------------------------------------------------------------------------------

/// Quotient and remainder of [`divmod_var`].
#[derive(Clone, Debug)]
pub struct DivMod {
    /// `⌊x / d⌋`.
    pub quotient: FpVar<Fr>,
    /// The quotient's little-endian bits (its width depends on the operands' widths).
    pub quotient_bits: Vec<Boolean<Fr>>,
    /// `x mod d`, proven `< d`.
    pub remainder: FpVar<Fr>,
}

/// Proves `x = q·d + r` with `0 ≤ r < d` and returns `q, r`, for `x < 2^x_bits` and a
/// divisor `d < 2^d_bits` that is either a constant (`FpVar::Constant`, then `d_bits`
/// is ignored) or a witness.
///
/// Cost: see the module table. A witness divisor need not be range-checked by the
/// caller: `r < d` with `r < 2^d_bits` and `d − 1 − r < 2^d_bits` already bounds it,
/// and `d = 0` is unsatisfiable. Likewise `x` need not be range-checked: if it is not
/// `< 2^x_bits`, no quotient fits and the constraint system is unsatisfied.
pub fn divmod_var(x: &FpVar<Fr>, x_bits: usize, d: &FpVar<Fr>, d_bits: usize) -> Result<DivMod> {
    check_width("dividend", x_bits)?;
    let q_bits = match d {
        FpVar::Constant(dc) => (x_bits + 1).saturating_sub(bit_length(*dc)),
        FpVar::Var(_) => x_bits,
    };
    divmod_core(x, d, q_bits, d_bits, honest_witness(x, d))
}

fn honest_witness(x: &FpVar<Fr>, d: &FpVar<Fr>) -> std::result::Result<(Fr, Fr), SynthesisError> {
    let (x, d) = (x.value()?, d.value()?);
    fr_divmod(x, d).ok_or(SynthesisError::DivisionByZero)
}

/// [`divmod_var`] with a given quotient width and a given (possibly dishonest) witness
/// `(q, r)`; soundness tests feed it bad witnesses.
pub(crate) fn divmod_core(
    x: &FpVar<Fr>,
    d: &FpVar<Fr>,
    q_bits: usize,
    d_bits: usize,
    witness: std::result::Result<(Fr, Fr), SynthesisError>,
) -> Result<DivMod> {
    check_width("quotient", q_bits)?;
    match d {
        FpVar::Constant(dc) => divmod_constant(x, *dc, q_bits, witness),
        FpVar::Var(_) => divmod_witness(x, d, q_bits, d_bits, witness),
    }
}

fn divmod_constant(
    x: &FpVar<Fr>,
    d: Fr,
    q_bits: usize,
    witness: std::result::Result<(Fr, Fr), SynthesisError>,
) -> Result<DivMod> {
    if d.is_zero() {
        return Err(Error::DivisionByZero);
    }
    let d_len = bit_length(d);
    // x = q·d + r < 2^q_bits·d ≤ 2^(q_bits + d_len): no wrap-around.
    check_width("quotient·divisor", q_bits + d_len)?;
    let r_bits = bit_length(d - Fr::one());
    let cs = match x {
        FpVar::Constant(xc) => {
            let (q, r) = fr_divmod(*xc, d).ok_or(Error::DivisionByZero)?;
            let quotient_bits = constant_bits(q, q_bits)?;
            return Ok(DivMod {
                quotient: FpVar::constant(q),
                quotient_bits,
                remainder: FpVar::constant(r),
            });
        }
        FpVar::Var(v) => v.cs.clone(),
    };
    let quotient_bits = witness_bits(&cs, witness.map(|(q, _)| q), 0..q_bits)?;
    let q_lc = weighted_bits(&quotient_bits, 0);
    let q_value = bits_value(&quotient_bits);
    let quotient = fp_from_lc(&cs, q_lc.clone(), q_value)?;
    // r is defined as x − q·d (the witness's r is implied); proving it has r_bits bits
    // proves the division.
    let r_lc = lc_of(x) - (d, &q_lc);
    if r_bits == 0 {
        // d = 1: r = 0, i.e. x = q.
        cs.enforce_constraint(r_lc, lc!() + Variable::One, lc!())?;
        return Ok(DivMod { quotient, quotient_bits, remainder: FpVar::zero() });
    }
    let r_value = x.value().ok().zip(q_value).map(|(x, q)| x - q * d);
    let remainder = fp_from_lc(&cs, r_lc, r_value)?;
    enforce_bit_length(&remainder, r_bits)?;
    // For d = 2^k, r < 2^k is r < d; otherwise prove d − 1 − r < 2^r_bits as well.
    if bit_length(d - Fr::one()) == bit_length(d) {
        enforce_bit_length(&(FpVar::constant(d - Fr::one()) - &remainder), r_bits)?;
    }
    Ok(DivMod { quotient, quotient_bits, remainder })
}

fn divmod_witness(
    x: &FpVar<Fr>,
    d: &FpVar<Fr>,
    q_bits: usize,
    d_bits: usize,
    witness: std::result::Result<(Fr, Fr), SynthesisError>,
) -> Result<DivMod> {
    check_width("divisor", d_bits)?;
    // r < d < 2^(d_bits+1), so x = q·d + r < 2^(q_bits + d_bits + 1): no wrap-around.
    check_width("quotient·divisor", q_bits + d_bits + 1)?;
    let cs = cs_of(&[x, d]);
    let quotient_bits = witness_bits(&cs, witness.map(|(q, _)| q), 0..q_bits)?;
    let remainder_bits = witness_bits(&cs, witness.map(|(_, r)| r), 0..d_bits)?;
    let q_lc = weighted_bits(&quotient_bits, 0);
    let r_lc = weighted_bits(&remainder_bits, 0);
    cs.enforce_constraint(q_lc.clone(), lc_of(d), lc_of(x) - &r_lc)?;
    let quotient = fp_from_lc(&cs, q_lc, bits_value(&quotient_bits))?;
    let remainder = fp_from_lc(&cs, r_lc, bits_value(&remainder_bits))?;
    enforce_bit_length(&(d - &remainder - Fr::one()), d_bits)?;
    Ok(DivMod { quotient, quotient_bits, remainder })
}

/// `x / d` rounded by `mode`, for `x < 2^x_bits` and `d < 2^d_bits` (constant or
/// witness, as in [`divmod_var`]). The result is `< 2^x_bits`.
///
/// - `Down`: `⌊x/d⌋`;
/// - `Up`: `⌊(x + d − 1)/d⌋`;
/// - `HalfUp`: `⌊(2x + d)/(2d)⌋`;
/// - `HalfEven`: as `HalfUp`, minus 1 when the division was an exact tie (remainder 0)
///   and the half-up quotient is odd. A tie needs an even divisor, so an odd constant
///   `d` costs nothing extra.
///
/// Cost: one [`divmod_var`] (with divisor `2d`, one bit wider, for the half modes) and
/// 3 more constraints for `HalfEven` (a zero test and an AND) unless `d` is an odd
/// constant.
pub fn round_div_var(
    x: &FpVar<Fr>,
    x_bits: usize,
    d: &FpVar<Fr>,
    d_bits: usize,
    mode: RoundingMode,
) -> Result<FpVar<Fr>> {
    check_width("dividend", x_bits)?;
    // Quotient width for rounded-up results: ⌈x/d⌉ ≤ x for d ≥ 1, and for a constant
    // d ≥ 2^(L−1) it is ≤ 2^(x_bits−L+1), hence < 2^(x_bits−L+2).
    let rounded_q_bits = match d {
        FpVar::Constant(dc) if x_bits > 0 => {
            x_bits.min((x_bits + 2).saturating_sub(bit_length(*dc)).max(1))
        }
        _ => x_bits,
    };
    match mode {
        RoundingMode::Down => Ok(divmod_var(x, x_bits, d, d_bits)?.quotient),
        RoundingMode::Up => {
            let shifted = x + d - Fr::one();
            let witness = honest_witness(&shifted, d);
            Ok(divmod_core(&shifted, d, rounded_q_bits, d_bits, witness)?.quotient)
        }
        RoundingMode::HalfUp | RoundingMode::HalfEven => {
            let shifted = x.double()? + d;
            let divisor = d.double()?;
            let witness = honest_witness(&shifted, &divisor);
            let DivMod { quotient, quotient_bits, remainder } =
                divmod_core(&shifted, &divisor, rounded_q_bits, d_bits + 1, witness)?;
            let odd_constant_divisor = matches!(d, FpVar::Constant(dc) if bit_of(*dc, 0));
            if mode == RoundingMode::HalfUp || odd_constant_divisor {
                return Ok(quotient);
            }
            let Some(lowest_bit) = quotient_bits.first() else {
                // A zero-width quotient is 0, which is even.
                return Ok(quotient);
            };
            let tie = remainder.is_eq(&FpVar::zero())?;
            let step_back = and(&tie, lowest_bit)?;
            Ok(quotient - FpVar::from(step_back))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_relations::r1cs::ConstraintSystem;
    use proptest::prelude::*;

    const ALL_MODES: [RoundingMode; 4] =
        [RoundingMode::Up, RoundingMode::Down, RoundingMode::HalfUp, RoundingMode::HalfEven];

    fn witness(cs: &ConstraintSystemRef<Fr>, v: u128) -> FpVar<Fr> {
        FpVar::new_witness(cs.clone(), || Ok(Fr::from(v))).unwrap()
    }

    fn to_u128(x: &FpVar<Fr>) -> u128 {
        let big = x.value().unwrap().into_bigint();
        assert!(big.num_bits() <= 128);
        u128::from(big.0[0]) | (u128::from(big.0[1]) << 64)
    }

    /// Constraints added by `f` to a fresh system (with its inputs allocated first).
    fn cost<T>(
        setup: impl FnOnce(&ConstraintSystemRef<Fr>) -> T,
        f: impl FnOnce(T) -> Result<()>,
    ) -> usize {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let inputs = setup(&cs);
        let before = cs.num_constraints();
        f(inputs).unwrap();
        assert!(cs.is_satisfied().unwrap());
        cs.num_constraints() - before
    }

    /// Replaces the assignment of the witness behind `var` (a `Boolean` or `FpVar`).
    fn tamper(cs: &ConstraintSystemRef<Fr>, var: Variable, value: Fr) {
        match var {
            Variable::Witness(i) => cs.borrow_mut().unwrap().witness_assignment[i] = value,
            other => panic!("not a witness: {other:?}"),
        }
    }

    #[test]
    fn native_rounding_examples() {
        use RoundingMode::*;
        let cases: [(u128, u128, [u128; 4]); 8] = [
            // x, d, [Up, Down, HalfUp, HalfEven]
            (0, 7, [0, 0, 0, 0]),
            (6, 7, [1, 0, 1, 1]),
            (7, 7, [1, 1, 1, 1]),
            (5, 2, [3, 2, 3, 2]),   // 2.5
            (7, 2, [4, 3, 4, 4]),   // 3.5
            (15, 10, [2, 1, 2, 2]), // 1.5
            (25, 10, [3, 2, 3, 2]), // 2.5
            (24, 10, [3, 2, 2, 2]),
        ];
        for (x, d, expected) in cases {
            for (mode, want) in [Up, Down, HalfUp, HalfEven].into_iter().zip(expected) {
                assert_eq!(round_div(x, d, mode).unwrap(), want, "{x}/{d} {mode:?}");
            }
        }
        assert_eq!(round_div(u128::MAX, u128::MAX - 1, HalfUp).unwrap(), 1);
        assert_eq!(round_div(u128::MAX, 2, HalfEven).unwrap(), 1 << 127);
        assert_eq!(divmod(1, 0), Err(Error::DivisionByZero));
        assert_eq!(round_div(1, 0, Up), Err(Error::DivisionByZero));
    }

    #[test]
    fn fr_divmod_matches_u128() {
        for (x, d) in [(0u128, 1u128), (u128::MAX, 3), (1 << 100, (1 << 64) + 1), (17, 17)] {
            let (q, r) = fr_divmod(Fr::from(x), Fr::from(d)).unwrap();
            assert_eq!((q, r), (Fr::from(x / d), Fr::from(x % d)));
        }
        assert!(fr_divmod(Fr::from(5u64), Fr::zero()).is_none());
        // Beyond u128: (p − 1) / 2^200.
        let big = -Fr::one();
        let (q, r) = fr_divmod(big, pow2(200)).unwrap();
        assert_eq!(q * pow2(200) + r, big);
        assert!(bit_length(r) <= 200);
    }

    #[test]
    fn range_check_costs_and_soundness() {
        for n in [1usize, 8, 64] {
            let v = (1u128 << n) - 1;
            assert_eq!(cost(|cs| witness(cs, v), |x| range_check(&x, n).map(drop)), n + 1);
            assert_eq!(cost(|cs| witness(cs, v), |x| enforce_bit_length(&x, n)), n);
            assert_eq!(
                cost(|cs| cs.clone(), |cs| alloc_bits(cs, || Ok(Fr::from(v)), n).map(drop)),
                n
            );
            // 2^n does not fit.
            for gadget in [0, 1] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let x = witness(&cs, 1u128 << n);
                if gadget == 0 {
                    range_check(&x, n).unwrap();
                } else {
                    enforce_bit_length(&x, n).unwrap();
                }
                assert!(!cs.is_satisfied().unwrap(), "2^{n} passed gadget {gadget}");
            }
        }
        // A "negative" value, p − 1, is no small integer.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let x = FpVar::new_witness(cs.clone(), || Ok(-Fr::one())).unwrap();
        enforce_bit_length(&x, 64).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        // Zero width means zero.
        let cs = ConstraintSystem::<Fr>::new_ref();
        enforce_bit_length(&witness(&cs, 0), 0).unwrap();
        assert!(cs.is_satisfied().unwrap());
        enforce_bit_length(&witness(&cs, 1), 0).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn range_check_returns_bits_and_rejects_bad_inputs() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let bits = range_check(&witness(&cs, 0b1011), 4).unwrap();
        let values: Vec<bool> = bits.iter().map(|b| b.value().unwrap()).collect();
        assert_eq!(values, [true, true, false, true]);
        assert_eq!(
            range_check(&FpVar::constant(Fr::from(16u64)), 4).unwrap_err(),
            Error::OutOfRange { bits: 4 }
        );
        assert_eq!(
            alloc_bits(cs.clone(), || Ok(Fr::from(16u64)), 4).unwrap_err(),
            Error::OutOfRange { bits: 4 }
        );
        assert_eq!(
            range_check(&witness(&cs, 1), MAX_BITS + 1).unwrap_err(),
            Error::BitWidth { what: "range_check", bits: MAX_BITS + 1, max: MAX_BITS }
        );
        // Flipping a returned bit breaks the recomposition.
        let Boolean::Var(bit) = &bits[1] else { panic!("constant bit") };
        tamper(&cs, bit.variable(), Fr::zero());
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn comparisons() {
        let n = 16;
        let values = [0u128, 1, 2, 1000, (1 << 16) - 2, (1 << 16) - 1];
        for &a in &values {
            for &b in &values {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (av, bv) = (witness(&cs, a), witness(&cs, b));
                let before = cs.num_constraints();
                let lt = is_less_than(&av, &bv, n).unwrap();
                let le = is_less_or_equal(&av, &bv, n).unwrap();
                assert_eq!(cs.num_constraints() - before, 2 * (n + 1));
                let mn = min(&av, &bv, n).unwrap();
                let mx = max(&av, &bv, n).unwrap();
                assert_eq!((lt.value().unwrap(), le.value().unwrap()), (a < b, a <= b));
                assert_eq!((to_u128(&mn), to_u128(&mx)), (a.min(b), a.max(b)));
                // Constants fold.
                let lt_const =
                    is_less_than(&FpVar::constant(Fr::from(a)), &FpVar::constant(Fr::from(b)), n)
                        .unwrap();
                assert_eq!(lt_const, Boolean::constant(a < b));
                assert!(cs.is_satisfied().unwrap());
                // Flipping the answer cannot be satisfied.
                let Boolean::Var(bit) = &lt else { panic!("constant result") };
                tamper(&cs, bit.variable(), Fr::from(a >= b));
                assert!(!cs.is_satisfied().unwrap());

                let cs = ConstraintSystem::<Fr>::new_ref();
                let (av, bv) = (witness(&cs, a), witness(&cs, b));
                enforce_less_than(&av, &bv, n).unwrap();
                assert_eq!(cs.num_constraints(), n);
                assert_eq!(cs.is_satisfied().unwrap(), a < b);
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (av, bv) = (witness(&cs, a), witness(&cs, b));
                enforce_less_or_equal(&av, &bv, n).unwrap();
                assert_eq!(cs.is_satisfied().unwrap(), a <= b);
            }
        }
    }

    #[test]
    fn select_helpers() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        for c in [false, true] {
            let cond = Boolean::new_witness(cs.clone(), || Ok(c)).unwrap();
            let before = cs.num_constraints();
            let s = select(&cond, &witness(&cs, 7), &witness(&cs, 9)).unwrap();
            let k = select_constant(&cond, Fr::from(7u64), Fr::from(9u64));
            assert_eq!(cs.num_constraints() - before, 1);
            assert_eq!((to_u128(&s), to_u128(&k)), if c { (7, 7) } else { (9, 9) });
        }
        assert!(cs.is_satisfied().unwrap());
    }

    /// Runs `round_div_var` for constant and witness `d`, checks it against
    /// `round_div` and returns the constraint counts (constant, witness).
    fn check_round(
        x: u128,
        x_bits: usize,
        d: u128,
        d_bits: usize,
        mode: RoundingMode,
    ) -> (usize, usize) {
        let want = round_div(x, d, mode).unwrap();
        let mut costs = [0; 2];
        for (i, witness_divisor) in [false, true].into_iter().enumerate() {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let xv = witness(&cs, x);
            let dv = if witness_divisor { witness(&cs, d) } else { FpVar::constant(Fr::from(d)) };
            let before = cs.num_constraints();
            let got = round_div_var(&xv, x_bits, &dv, d_bits, mode).unwrap();
            costs[i] = cs.num_constraints() - before;
            assert_eq!(to_u128(&got), want, "{x}/{d} {mode:?} witness d: {witness_divisor}");
            assert!(cs.is_satisfied().unwrap(), "{x}/{d} {mode:?} unsatisfied");
        }
        (costs[0], costs[1])
    }

    #[test]
    fn rounding_edge_values() {
        let (x_bits, d_bits) = (20, 12);
        for d in [1u128, 2, 3, 4, 7, 10, 1000, 4095] {
            let mut xs = vec![0, 1, d - 1, d, d + 1, 2 * d - 1, (1 << x_bits) - 1];
            // Exact halves with even and odd quotients, and their neighbours.
            if d % 2 == 0 {
                for k in [0, 1, 2, 3, 10, 11] {
                    let half = k * d + d / 2;
                    xs.extend([half - 1, half, half + 1]);
                }
            }
            for x in xs.into_iter().filter(|x| *x < 1 << x_bits) {
                for mode in ALL_MODES {
                    check_round(x, x_bits, d, d_bits, mode);
                }
            }
        }
    }

    #[test]
    fn divmod_costs() {
        let (x_bits, d_bits) = (64, 32);
        let x = (1u128 << 64) - 1;
        // Witness divisor: x_bits + 2·d_bits + 1.
        let witness_cost = cost(
            |cs| (witness(cs, x), witness(cs, 12345)),
            |(x, d)| divmod_var(&x, x_bits, &d, d_bits).map(drop),
        );
        assert_eq!(witness_cost, x_bits + 2 * d_bits + 1);
        // Constant power of two 2^10: (64 − 10) quotient bits + 10 remainder bits.
        let pow_cost = cost(
            |cs| witness(cs, x),
            |x| divmod_var(&x, x_bits, &FpVar::constant(Fr::from(1024u64)), 0).map(drop),
        );
        assert_eq!(pow_cost, 54 + 10);
        // Constant 10^6 (20 bits): 45 quotient bits + 2·20.
        let const_cost = cost(
            |cs| witness(cs, x),
            |x| divmod_var(&x, x_bits, &FpVar::constant(Fr::from(1_000_000u64)), 0).map(drop),
        );
        assert_eq!(const_cost, 45 + 40);
        // Rounding adds one remainder bit for the half modes, +3 for HalfEven.
        let (_, down) = check_round(x, 64, 999, 32, RoundingMode::Down);
        let (_, up) = check_round(x, 64, 999, 32, RoundingMode::Up);
        let (_, half_up) = check_round(x, 64, 999, 32, RoundingMode::HalfUp);
        let (odd_const, half_even) = check_round(x, 64, 999, 32, RoundingMode::HalfEven);
        assert_eq!((down, up, half_up, half_even), (129, 129, 131, 134));
        assert_eq!(odd_const, check_round(x, 64, 999, 32, RoundingMode::HalfUp).0);
    }

    #[test]
    fn divmod_rejects_bad_witnesses() {
        // 47 = 9·5 + 2. Each bad pair satisfies x = q·d + r in the field.
        let (x, d) = (47u64, 5u64);
        let bad: [(Fr, Fr); 3] = [
            (Fr::from(8u64), Fr::from(7u64)),   // remainder ≥ d
            (Fr::from(10u64), -Fr::from(3u64)), // "negative" remainder
            // Huge quotient: q = (x − 1)/d in the field, r = 1.
            ((Fr::from(x) - Fr::one()) * Fr::from(d).inverse().unwrap(), Fr::one()),
        ];
        for (q, r) in bad {
            assert_eq!(q * Fr::from(d) + r, Fr::from(x));
            for constant in [false, true] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let xv = witness(&cs, x.into());
                let dv =
                    if constant { FpVar::constant(Fr::from(d)) } else { witness(&cs, d.into()) };
                divmod_core(&xv, &dv, 8, 4, Ok((q, r))).unwrap();
                assert!(!cs.is_satisfied().unwrap(), "accepted q={q} r={r} constant={constant}");
            }
        }
        // A zero witness divisor: 47 = q·0 + 47 would need 47 < 0.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let (xv, dv) = (witness(&cs, 47), witness(&cs, 0));
        divmod_core(&xv, &dv, 8, 6, Ok((Fr::from(3u64), Fr::from(47u64)))).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        // An honest prover with d = 0 gets an error, not a proof.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let (xv, dv) = (witness(&cs, 47), witness(&cs, 0));
        assert_eq!(
            divmod_var(&xv, 8, &dv, 6).unwrap_err(),
            Error::Synthesis(SynthesisError::DivisionByZero)
        );
        assert_eq!(divmod_var(&xv, 8, &FpVar::zero(), 6).unwrap_err(), Error::DivisionByZero);
        // A dividend wider than declared has no fitting quotient.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let xv = witness(&cs, 1 << 20);
        divmod_var(&xv, 8, &witness(&cs, 3), 4).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        // Widths that could wrap are refused.
        assert!(matches!(
            divmod_var(&xv, 200, &witness(&cs, 3), 60),
            Err(Error::BitWidth { what: "quotient·divisor", .. })
        ));
    }

    #[test]
    fn constant_operands_fold() {
        let q =
            divmod_var(&FpVar::constant(Fr::from(47u64)), 8, &FpVar::constant(Fr::from(5u64)), 0)
                .unwrap();
        assert!(q.quotient.is_constant() && q.remainder.is_constant());
        assert_eq!((to_u128(&q.quotient), to_u128(&q.remainder)), (9, 2));
    }

    /// Groth16 derives its keys from a run without values (setup mode); the gadgets
    /// must then build exactly the same constraints as with values.
    #[test]
    fn shape_does_not_depend_on_values() {
        use ark_relations::r1cs::SynthesisMode;
        let build = |cs: ConstraintSystemRef<Fr>| {
            let value = |v: u64| move || Ok(Fr::from(v));
            let (x, _) = alloc_bits(cs.clone(), value(1_234_567), 32).unwrap();
            let (d, _) = alloc_bits(cs.clone(), value(1_000), 16).unwrap();
            for mode in ALL_MODES {
                let _witness_d = round_div_var(&x, 32, &d, 16, mode).unwrap();
                let _up =
                    round_div_var(&x, 32, &FpVar::constant(Fr::from(1000u64)), 0, mode).unwrap();
            }
            range_check(&x, 32).unwrap();
            let _max = max(&x, &d, 32).unwrap();
            enforce_less_than(&d, &x, 32).unwrap();
            cs.num_constraints()
        };
        let setup = ConstraintSystem::<Fr>::new_ref();
        setup.set_mode(SynthesisMode::Setup);
        let prove = ConstraintSystem::<Fr>::new_ref();
        assert_eq!(build(setup), build(prove.clone()));
        assert!(prove.is_satisfied().unwrap());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn rounding_matches_native(x in 0u128..(1 << 40), d in 1u128..(1 << 16)) {
            for mode in ALL_MODES {
                check_round(x, 40, d, 16, mode);
            }
        }

        #[test]
        fn native_rounding_is_the_rating_engines(x: u64, d in 1u64..) {
            // The engine's 2r may overflow beyond 2^127; rated values stay far below.
            let (x, d) = (u128::from(x) << 32, u128::from(d));
            for mode in ALL_MODES {
                prop_assert_eq!(round_div(x, d, mode).unwrap(), omni_core::rating::round_div(x, d, mode));
            }
        }
    }
}

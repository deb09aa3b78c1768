//! Miller loops of BN254's optimal ate pairing over several pairs, sequential or split
//! across threads, with the lines of fixed G2 points (a verifying key's `β`, `−γ`, `−δ`)
//! normalized once so that each costs a cheaper sparse multiplication.
//!
//! A line of the loop, evaluated at `P = (x, y)` (BN254's twist is of type D), is the
//! sparse `Fp12` element `c₀·y + (c₁·x)·w + c₂·v·w` of arkworks' coefficients
//! `(c₀, c₁, c₂)`. Dividing it by `c₀·y ∈ Fp2` changes the loop's value by a factor in
//! `Fp2`, which the final exponentiation (a multiple of `p⁶ − 1`) sends to 1. For a fixed
//! `Q`, `(c₁/c₀, c₂/c₀)` is computed once; for each `P`, `(x/y, 1/y)` once per loop; and
//! each line becomes `1 + ℓ` with `ℓ = c₃·w + c₄·v·w`, multiplied in as
//! `f·(1 + ℓ) = (f₀ + v·f₁ℓ') + (f₁ + f₀ℓ')·w` (`ℓ' = c₃ + c₄·v`): two sparse `Fp6`
//! products, 10 `Fp2` multiplications instead of arkworks' 13.

use ark_bn254::{Bn254, Config, Fq, Fq12, Fq12Config, Fq2, G1Affine, G2Affine};
use ark_ec::bn::BnConfig;
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ff::fields::models::fp12_2over3over2::Fp12Config;
use ark_ff::{Field, One, Zero};
use rayon::prelude::*;

type G2Prepared = <Bn254 as Pairing>::G2Prepared;
type EllCoeff = ark_ec::bn::g2::EllCoeff<Config>;

// The lines of the loop's last two steps are multiplied in per share, which needs no
// inversion in between: BN254's x is positive.
const _: () = assert!(!<Config as BnConfig>::X_IS_NEGATIVE);

/// The lines of a G2 point through one Miller loop, in one of two forms.
#[derive(Clone, Debug)]
pub enum Lines {
    /// arkworks' coefficients `(c₀, c₁, c₂)`, as for a proof's `B`.
    Prepared(Vec<EllCoeff>),
    /// `(c₁/c₀, c₂/c₀)` of a fixed point (module docs).
    Normalized(Vec<(Fq2, Fq2)>),
}

impl Lines {
    /// The lines of `q` (none for the point at infinity, whose pairings are 1).
    pub fn of(q: G2Affine) -> Self {
        Lines::Prepared(G2Prepared::from(q).ell_coeffs)
    }

    /// The normalized lines of a fixed `q`; arkworks' form if a line's `c₀` is zero, which
    /// never happens for a point of prime order (`c₀` vanishes only when the loop's
    /// running point has order 2 or equals `±` the point added).
    pub fn fixed(q: G2Affine) -> Self {
        let coeffs = G2Prepared::from(q).ell_coeffs;
        let mut inverses: Vec<Fq2> = coeffs.iter().map(|c| c.0).collect();
        if inverses.iter().any(Zero::is_zero) {
            return Lines::Prepared(coeffs);
        }
        ark_ff::batch_inversion(&mut inverses);
        Lines::Normalized(coeffs.iter().zip(inverses).map(|(c, i)| (c.1 * i, c.2 * i)).collect())
    }

    fn is_empty(&self) -> bool {
        match self {
            Lines::Prepared(c) => c.is_empty(),
            Lines::Normalized(c) => c.is_empty(),
        }
    }
}

/// A G1 point with its G2 point's lines, ready for a Miller loop.
pub struct Pair<'a> {
    /// `(x, y)` for arkworks' lines, `(x/y, 1/y)` for normalized ones.
    at: (Fq, Fq),
    lines: &'a Lines,
}

impl<'a> Pair<'a> {
    /// `p` with `lines`; `None` when the pair's pairing is 1 (either point at infinity).
    pub fn new(p: &G1Affine, lines: &'a Lines) -> Option<Self> {
        if p.infinity || lines.is_empty() {
            return None;
        }
        let at = match lines {
            Lines::Prepared(_) => (p.x, p.y),
            // A G1 point of BN254 (prime order) never has y = 0.
            Lines::Normalized(_) => {
                let y_inv = p.y.inverse()?;
                (p.x * y_inv, y_inv)
            }
        };
        Some(Pair { at, lines })
    }

    /// Multiplies `f` by this pair's `i`-th line.
    fn line(&self, f: &mut Fq12, i: usize) {
        let (x, y) = self.at;
        match self.lines {
            Lines::Prepared(coeffs) => {
                let (mut c0, mut c1, c2) = coeffs[i];
                c0.mul_assign_by_fp(&y);
                c1.mul_assign_by_fp(&x);
                f.mul_by_034(&c0, &c1, &c2);
            }
            Lines::Normalized(coeffs) => {
                let (mut c3, mut c4) = coeffs[i];
                c3.mul_assign_by_fp(&x);
                c4.mul_assign_by_fp(&y);
                mul_by_one_plus_34(f, &c3, &c4);
            }
        }
    }
}

/// `f ← f·(1 + c₃·w + c₄·v·w)` (module docs).
fn mul_by_one_plus_34(f: &mut Fq12, c3: &Fq2, c4: &Fq2) {
    let mut f1_l = f.c1;
    f1_l.mul_by_01(c3, c4);
    let mut f0_l = f.c0;
    f0_l.mul_by_01(c3, c4);
    Fq12Config::mul_fp6_by_nonresidue_in_place(&mut f1_l);
    f.c0 += &f1_l;
    f.c1 += &f0_l;
}

/// `Π e(Pᵢ, Qᵢ)` before the final exponentiation, on the calling thread: every step
/// squares the running value once for all pairs.
pub fn miller_loop(pairs: &[Pair<'_>]) -> Fq12 {
    let mut f = Fq12::one();
    let mut line = 0;
    let mut lines = |f: &mut Fq12| {
        for pair in pairs {
            pair.line(f, line);
        }
        line += 1;
    };
    let count = <Config as BnConfig>::ATE_LOOP_COUNT;
    for i in (1..count.len()).rev() {
        if i != count.len() - 1 {
            f.square_in_place();
        }
        lines(&mut f);
        if count[i - 1] != 0 {
            lines(&mut f);
        }
    }
    lines(&mut f);
    lines(&mut f);
    f
}

/// [`miller_loop`] with the pairs split into one share per thread (rayon), the shares'
/// values multiplied: each share pays the loop's squarings once, instead of once per
/// four pairs as arkworks' `multi_miller_loop` does.
pub fn multi_miller_loop(pairs: &[Pair<'_>]) -> MillerLoopOutput<Bn254> {
    let threads = rayon::current_num_threads().max(1);
    let share = pairs.len().div_ceil(threads).max(1);
    MillerLoopOutput(pairs.par_chunks(share).map(miller_loop).reduce(Fq12::one, |a, b| a * b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;
    use ark_ff::UniformRand;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn both_line_forms_give_arkworks_pairings() {
        let mut rng = StdRng::seed_from_u64(7);
        for n in [1, 2, 3, 7] {
            let g1: Vec<G1Affine> = (0..n).map(|_| G1Affine::rand(&mut rng)).collect();
            let g2: Vec<G2Affine> = (0..n).map(|_| G2Affine::rand(&mut rng)).collect();
            let expected = Bn254::multi_pairing(g1.clone(), g2.clone());
            // Alternate the two forms; the normalized form must be the normalized one.
            let lines: Vec<Lines> = g2
                .iter()
                .enumerate()
                .map(|(i, q)| if i % 2 == 0 { Lines::fixed(*q) } else { Lines::of(*q) })
                .collect();
            assert!(matches!(lines[0], Lines::Normalized(_)));
            let pairs: Vec<Pair> =
                g1.iter().zip(&lines).filter_map(|(p, l)| Pair::new(p, l)).collect();
            for f in [MillerLoopOutput(miller_loop(&pairs)), multi_miller_loop(&pairs)] {
                assert_eq!(Bn254::final_exponentiation(f).unwrap(), expected);
            }
        }
    }

    #[test]
    fn pairs_with_a_point_at_infinity_are_left_out() {
        let mut rng = StdRng::seed_from_u64(8);
        let q = G2Affine::rand(&mut rng);
        let fixed = Lines::fixed(q);
        assert!(Pair::new(&G1Affine::zero(), &fixed).is_none());
        let none = Lines::fixed(G2Affine::zero());
        assert!(Pair::new(&G1Affine::rand(&mut rng), &none).is_none());
        // An empty product is the identity.
        let f = MillerLoopOutput(miller_loop(&[]));
        assert!(Bn254::final_exponentiation(f).unwrap().0.is_one());
    }
}

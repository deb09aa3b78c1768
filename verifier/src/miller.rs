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
use ark_ff::{AdditiveGroup, Field, One, Zero};
use rayon::prelude::*;

type G2Prepared = <Bn254 as Pairing>::G2Prepared;
type EllCoeff = ark_ec::bn::g2::EllCoeff<Config>;

// The lines of the loop's last two steps are multiplied in per share, which needs no
// inversion in between: BN254's x is positive.
const _: () = assert!(!<Config as BnConfig>::X_IS_NEGATIVE);

/// The lines of a G2 point through one Miller loop, in one of two forms.
#[derive(Clone, Debug)]
pub enum Lines {
    /// arkworks' coefficients `(c₀, c₁, c₂)` from its projective steps (a single proof's
    /// `B`).
    Prepared(Vec<EllCoeff>),
    /// `(c₁/c₀, c₂/c₀)` (module docs) from affine steps: a key's fixed points, a batch's
    /// proof points.
    Normalized(Vec<(Fq2, Fq2)>),
}

impl Lines {
    /// The lines of `q` (none for the point at infinity, whose pairings are 1).
    pub fn of(q: G2Affine) -> Self {
        Lines::Prepared(G2Prepared::from(q).ell_coeffs)
    }

    /// The lines of many points for one multi-Miller loop ([`multi_miller_loop`]'s split:
    /// one share per thread): a share of at least [`AFFINE_LINES_FROM`] points computed
    /// together ([`Lines::of_many`]), a smaller one point by point ([`Lines::of`]).
    pub fn of_all(qs: &[G2Affine]) -> Vec<Lines> {
        qs.par_chunks(per_thread(qs.len()))
            .flat_map_iter(|share| match share.len() >= AFFINE_LINES_FROM {
                true => Lines::of_many(share),
                false => share.iter().map(|q| Lines::of(*q)).collect(),
            })
            .collect()
    }

    /// The normalized lines of many points at once (empty ones for points at infinity): a
    /// key's fixed points, once, and a batch's proof points. The running points are kept
    /// affine, so each step's line is `(1, −λ, λ·x − y)` for its slope `λ` through `(x, y)`
    /// (the tangent's for a doubling, the chord's through the added point otherwise), and
    /// the slopes' denominators of all points are inverted together, one field inversion
    /// per step of the loop (Montgomery's trick). That is cheaper than arkworks' projective
    /// steps once there are more than a few points, and the lines come out normalized. A
    /// zero denominator (which needs a point of small order, never a subgroup-checked one)
    /// gives arkworks' lines instead.
    pub fn of_many(qs: &[G2Affine]) -> Vec<Lines> {
        let count = <Config as BnConfig>::ATE_LOOP_COUNT;
        let steps = count.len() + count.iter().filter(|d| **d != 0).count();
        let active: Vec<&G2Affine> = qs.iter().filter(|q| !q.infinity).collect();
        let mut running: Vec<(Fq2, Fq2)> = active.iter().map(|q| (q.x, q.y)).collect();
        let mut lines: Vec<Vec<(Fq2, Fq2)>> =
            active.iter().map(|_| Vec::with_capacity(steps)).collect();
        let mut denominators = vec![Fq2::zero(); active.len()];
        // One loop step for every point: a doubling of its running point, or the addition
        // of `added(i)` to point i's; pushes each point's line and moves its running point.
        let mut prefix = vec![Fq2::zero(); active.len()];
        let mut step = |lines: &mut Vec<Vec<(Fq2, Fq2)>>,
                        running: &mut Vec<(Fq2, Fq2)>,
                        added: Option<&dyn Fn(usize) -> (Fq2, Fq2)>|
         -> bool {
            let added: Vec<(Fq2, Fq2)> = match added {
                Some(q) => (0..running.len()).map(q).collect(),
                None => Vec::new(),
            };
            for (i, (d, t)) in denominators.iter_mut().zip(running.iter()).enumerate() {
                *d = match added.get(i) {
                    None => t.1.double(),
                    Some(q) => t.0 - q.0,
                };
            }
            if !invert_all(&mut denominators, &mut prefix) {
                return false;
            }
            for (i, ((x, y), inv)) in running.iter_mut().zip(&denominators).enumerate() {
                let (slope, other_x) = match added.get(i) {
                    None => {
                        let square = x.square();
                        ((square.double() + square) * inv, *x)
                    }
                    Some(q) => ((*y - q.1) * inv, q.0),
                };
                lines[i].push((-slope, slope * *x - *y));
                let x3 = slope.square() - *x - other_x;
                *y = slope * (*x - x3) - *y;
                *x = x3;
            }
            true
        };
        let plus = |i: usize| (active[i].x, active[i].y);
        let minus = |i: usize| (active[i].x, -active[i].y);
        // π(Q) on the twist, and −π²(Q): the loop's last two additions.
        let frobenius = |(mut x, mut y): (Fq2, Fq2)| {
            x.frobenius_map_in_place(1);
            y.frobenius_map_in_place(1);
            (x * <Config as BnConfig>::TWIST_MUL_BY_Q_X, y * <Config as BnConfig>::TWIST_MUL_BY_Q_Y)
        };
        let q1 = |i: usize| frobenius(plus(i));
        let minus_q2 = |i: usize| {
            let (x, y) = frobenius(q1(i));
            (x, -y)
        };
        let mut complete = true;
        for digit in count.iter().rev().skip(1) {
            complete &= step(&mut lines, &mut running, None);
            complete &= match digit {
                1 => step(&mut lines, &mut running, Some(&plus)),
                -1 => step(&mut lines, &mut running, Some(&minus)),
                _ => true,
            };
            if !complete {
                break;
            }
        }
        complete = complete
            && step(&mut lines, &mut running, Some(&q1))
            && step(&mut lines, &mut running, Some(&minus_q2));
        if !complete {
            // A zero denominator needs a point of small order, which a subgroup-checked
            // point is not; arkworks' projective steps handle it all the same.
            return qs.iter().map(|q| Lines::of(*q)).collect();
        }
        let mut lines = lines.into_iter();
        qs.iter()
            .map(|q| match q.infinity {
                true => Lines::Normalized(Vec::new()),
                false => Lines::Normalized(lines.next().unwrap_or_default()),
            })
            .collect()
    }

    fn is_empty(&self) -> bool {
        match self {
            Lines::Prepared(c) => c.is_empty(),
            Lines::Normalized(c) => c.is_empty(),
        }
    }
}

/// From this many points on, [`Lines::of_all`] computes lines together in affine
/// coordinates (one field inversion per loop step for all of them); below, point by point
/// in arkworks' projective coordinates.
pub const AFFINE_LINES_FROM: usize = 8;

/// Size of the shares that split `len` items into one per thread (rayon).
fn per_thread(len: usize) -> usize {
    len.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Replaces every element of `values` by its inverse with one field inversion (Montgomery's
/// trick, on the calling thread; `prefix` is scratch space of the same length); false, and
/// `values` unchanged, if one of them is zero.
fn invert_all(values: &mut [Fq2], prefix: &mut [Fq2]) -> bool {
    let mut product = Fq2::one();
    for (p, v) in prefix.iter_mut().zip(values.iter()) {
        *p = product;
        product *= v;
    }
    let Some(mut inverse) = product.inverse() else {
        return false;
    };
    for (v, p) in values.iter_mut().zip(prefix.iter()).rev() {
        let next = inverse * *v;
        *v = inverse * p;
        inverse = next;
    }
    true
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
            // No point of BN254's G1 has y = 0 (that would be a point of order 2 in a
            // group of odd prime order), so the inversion always succeeds.
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
    MillerLoopOutput(
        pairs.par_chunks(per_thread(pairs.len())).map(miller_loop).reduce(Fq12::one, |a, b| a * b),
    )
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
                .map(|(i, q)| match i % 2 {
                    0 => Lines::of_many(&[*q]).remove(0),
                    _ => Lines::of(*q),
                })
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
    fn affine_lines_of_many_points_give_arkworks_pairings() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut g2: Vec<G2Affine> = (0..5).map(|_| G2Affine::rand(&mut rng)).collect();
        g2.insert(2, G2Affine::zero());
        let g1: Vec<G1Affine> = (0..g2.len()).map(|_| G1Affine::rand(&mut rng)).collect();
        let lines = Lines::of_many(&g2);
        assert_eq!(lines.len(), g2.len());
        assert!(lines.iter().all(|l| matches!(l, Lines::Normalized(_))));
        for ((p, q), l) in g1.iter().zip(&g2).zip(&lines) {
            let f = MillerLoopOutput(miller_loop(&Pair::new(p, l).into_iter().collect::<Vec<_>>()));
            assert_eq!(Bn254::final_exponentiation(f).unwrap(), Bn254::pairing(p, q));
        }
        assert!(Lines::of_many(&[]).is_empty());
    }

    #[test]
    fn pairs_with_a_point_at_infinity_are_left_out() {
        let mut rng = StdRng::seed_from_u64(8);
        let q = G2Affine::rand(&mut rng);
        let [fixed, none] = <[Lines; 2]>::try_from(Lines::of_many(&[q, G2Affine::zero()])).unwrap();
        assert!(Pair::new(&G1Affine::zero(), &fixed).is_none());
        assert!(Pair::new(&G1Affine::rand(&mut rng), &none).is_none());
        // An empty product is the identity.
        let f = MillerLoopOutput(miller_loop(&[]));
        assert!(Bn254::final_exponentiation(f).unwrap().0.is_one());
    }
}

//! The hop circuit (see the module overview for the statement and its public inputs).
//!
//! # Layout
//!
//! - Poseidon: two `halo2_gadgets` `Pow5Chip`s for `P128Pow5T3` (each 3 state columns,
//!   1 partial S-box column, 6 fixed round-constant columns; 37 rows per permutation plus
//!   2 per absorbed block): one for the credential (secret hash, leaf, Merkle path,
//!   link), one for the lists (embargo and policy commitments), 22 permutations each, so
//!   the floor planner lays them side by side and the circuit fits 2^10 rows.
//! - Five advice columns `a0..a4` for this circuit's own gates, packed beside the
//!   Poseidon regions by the floor planner:
//!   - `swap` (one row per Merkle level): `bit·(1−bit) = 0`,
//!     `left = cur + bit·(sibling − cur)`, `right = sibling + bit·(cur − sibling)`;
//!   - `not embargoed` (one row per embargo slot): `(country − c_j)·inv_j = 1`;
//!   - `allowed attribute` (one row per policy slot): running product
//!     `p_j = p_{j−1}·(attribute − a_j)` from `p_{−1} = 1`, with `p_7 = 0`.
//! - One fixed column for constants (the domain tags, `1`, `0`), one instance column.

use ff::Field;
use halo2_gadgets::poseidon::{
    primitives::{ConstantLength, P128Pow5T3},
    Hash, Pow5Chip, Pow5Config,
};
use halo2_proofs::{
    circuit::{AssignedCell, Layouter, Region, SimpleFloorPlanner, Value},
    plonk::{
        Advice, Circuit, Column, ConstraintSystem, Error as PlonkError, Expression, Instance,
        Selector,
    },
    poly::Rotation,
};

use super::credential::CREDENTIAL_TREE_DEPTH;
use super::embargo::{EmbargoCommitment, EMBARGO_SLOTS, POLICY_SLOTS};
use super::hash::{tags, Fp};
use super::statement::{HopPublicInputs, HopWitness};
use super::Result;

/// `log2` of the hop circuit's rows: two chips of 22 Poseidon permutations each, 899
/// rows in all, fit 2^10 (a test checks that 2^9 does not).
pub const HOP_CIRCUIT_K: u32 = 10;

/// Instance rows (see the module overview).
pub(crate) const ROW_ROOT: usize = 0;
pub(crate) const ROW_EMBARGO: usize = 1;
pub(crate) const ROW_POLICY: usize = 2;
pub(crate) const ROW_LINK_PREV: usize = 3;
pub(crate) const ROW_LINK: usize = 4;
pub(crate) const ROW_UPSTREAM: usize = 5;
/// Number of public inputs of a hop proof.
pub const HOP_PUBLIC_INPUTS: usize = 6;

type Cell = AssignedCell<Fp, Fp>;

/// Columns and selectors of the hop circuit.
#[derive(Clone, Debug)]
pub struct HopConfig {
    /// The credential's chip: secret hash, leaf, Merkle path, link.
    pub(crate) poseidon_credential: Pow5Config<Fp, 3, 2>,
    /// The lists' chip: embargo and policy commitments.
    pub(crate) poseidon_lists: Pow5Config<Fp, 3, 2>,
    pub(crate) advice: [Column<Advice>; 5],
    pub(crate) instance: Column<Instance>,
    s_swap: Selector,
    s_embargo: Selector,
    s_policy: Selector,
}

/// The hop circuit's witness. [`HopCircuit::default`] is the shape without values, for
/// key generation.
#[derive(Clone, Debug)]
pub struct HopCircuit {
    pseudonym: Value<Fp>,
    country: Value<Fp>,
    attribute: Value<Fp>,
    secret: Value<Fp>,
    siblings: [Value<Fp>; CREDENTIAL_TREE_DEPTH],
    bits: [Value<Fp>; CREDENTIAL_TREE_DEPTH],
    embargo_version: Value<Fp>,
    embargo_slots: [Value<Fp>; EMBARGO_SLOTS],
    max_hops: Value<Fp>,
    policy_slots: [Value<Fp>; POLICY_SLOTS],
    link_prev: Value<Fp>,
    upstream_count: Value<Fp>,
}

impl Default for HopCircuit {
    fn default() -> Self {
        Self {
            pseudonym: Value::unknown(),
            country: Value::unknown(),
            attribute: Value::unknown(),
            secret: Value::unknown(),
            siblings: [Value::unknown(); CREDENTIAL_TREE_DEPTH],
            bits: [Value::unknown(); CREDENTIAL_TREE_DEPTH],
            embargo_version: Value::unknown(),
            embargo_slots: [Value::unknown(); EMBARGO_SLOTS],
            max_hops: Value::unknown(),
            policy_slots: [Value::unknown(); POLICY_SLOTS],
            link_prev: Value::unknown(),
            upstream_count: Value::unknown(),
        }
    }
}

fn known(x: Fp) -> Value<Fp> {
    Value::known(x)
}

impl HopCircuit {
    /// The circuit for `witness`. Only the path's shape is checked here: a witness that
    /// breaks the statement (embargoed country, revoked credential, …) yields a circuit
    /// that no proof satisfies; [`HopWitness::public_inputs`] reports those as errors.
    pub fn new(witness: &HopWitness) -> Result<Self> {
        witness.path.check_shape()?;
        let credential = &witness.opening.credential;
        let mut siblings = [Value::unknown(); CREDENTIAL_TREE_DEPTH];
        let mut bits = [Value::unknown(); CREDENTIAL_TREE_DEPTH];
        for level in 0..CREDENTIAL_TREE_DEPTH {
            siblings[level] = known(witness.path.siblings[level]);
            bits[level] = known(Fp::from(u64::from(witness.path.bit(level))));
        }
        Ok(Self {
            pseudonym: known(credential.pseudonym()),
            country: known(Fp::from(u64::from(credential.country()))),
            attribute: known(Fp::from(u64::from(credential.attribute()))),
            secret: known(witness.opening.secret),
            siblings,
            bits,
            embargo_version: known(Fp::from(u64::from(witness.embargo.version()))),
            embargo_slots: witness.embargo.slots().map(known),
            max_hops: known(Fp::from(u64::from(witness.policy.max_hops()))),
            policy_slots: witness.policy.slots().map(known),
            link_prev: known(witness.link_prev),
            upstream_count: known(Fp::from(u64::from(witness.upstream_count))),
        })
    }

    /// The instance column for `public`, in the order of the module overview.
    pub fn instance(public: &HopPublicInputs) -> Vec<Fp> {
        let mut column = vec![Fp::ZERO; HOP_PUBLIC_INPUTS];
        column[ROW_ROOT] = public.credential_root;
        column[ROW_EMBARGO] = public.embargo_commitment;
        column[ROW_POLICY] = public.policy_commitment;
        column[ROW_LINK_PREV] = public.link_prev;
        column[ROW_LINK] = public.link;
        column[ROW_UPSTREAM] = Fp::from(u64::from(public.upstream_count));
        column
    }
}

/// In-circuit Poseidon, `ConstantLength<L>`: the same function as
/// [`super::hash::poseidon`].
pub(crate) fn hash<const L: usize>(
    poseidon: &Pow5Config<Fp, 3, 2>,
    mut layouter: impl Layouter<Fp>,
    message: [Cell; L],
) -> std::result::Result<Cell, PlonkError> {
    let chip = Pow5Chip::construct(poseidon.clone());
    let hasher = Hash::<_, _, P128Pow5T3, ConstantLength<L>, 3, 2>::init(
        chip,
        layouter.namespace(|| "init"),
    )?;
    hasher.hash(layouter.namespace(|| "hash"), message)
}

fn array<const N: usize>(cells: Vec<Cell>) -> std::result::Result<[Cell; N], PlonkError> {
    cells.try_into().map_err(|_| PlonkError::Synthesis)
}

impl Circuit<Fp> for HopCircuit {
    type Config = HopConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::default()
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> HopConfig {
        let mut poseidon = || {
            let state = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
            let partial_sbox = meta.advice_column();
            let rc_a = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
            let rc_b = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
            Pow5Chip::configure::<P128Pow5T3>(meta, state, partial_sbox, rc_a, rc_b)
        };
        let poseidon_credential = poseidon();
        let poseidon_lists = poseidon();
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let advice = [
            meta.advice_column(),
            meta.advice_column(),
            meta.advice_column(),
            meta.advice_column(),
            meta.advice_column(),
        ];
        for column in advice {
            meta.enable_equality(column);
        }
        let instance = meta.instance_column();
        meta.enable_equality(instance);

        let s_swap = meta.selector();
        let s_embargo = meta.selector();
        let s_policy = meta.selector();
        let one = Expression::Constant(Fp::ONE);

        meta.create_gate("swap", |meta| {
            let s = meta.query_selector(s_swap);
            let cur = meta.query_advice(advice[0], Rotation::cur());
            let sibling = meta.query_advice(advice[1], Rotation::cur());
            let bit = meta.query_advice(advice[2], Rotation::cur());
            let left = meta.query_advice(advice[3], Rotation::cur());
            let right = meta.query_advice(advice[4], Rotation::cur());
            vec![
                s.clone() * bit.clone() * (one.clone() - bit.clone()),
                s.clone() * (left - cur.clone() - bit.clone() * (sibling.clone() - cur.clone())),
                s * (right - sibling.clone() - bit * (cur - sibling)),
            ]
        });
        meta.create_gate("not embargoed", |meta| {
            let s = meta.query_selector(s_embargo);
            let country = meta.query_advice(advice[0], Rotation::cur());
            let slot = meta.query_advice(advice[1], Rotation::cur());
            let inverse = meta.query_advice(advice[2], Rotation::cur());
            vec![s * ((country - slot) * inverse - one.clone())]
        });
        meta.create_gate("allowed attribute", |meta| {
            let s = meta.query_selector(s_policy);
            let attribute = meta.query_advice(advice[0], Rotation::cur());
            let slot = meta.query_advice(advice[1], Rotation::cur());
            let prev = meta.query_advice(advice[2], Rotation::cur());
            let product = meta.query_advice(advice[3], Rotation::cur());
            vec![s * (product - prev * (attribute - slot))]
        });

        HopConfig {
            poseidon_credential,
            poseidon_lists,
            advice,
            instance,
            s_swap,
            s_embargo,
            s_policy,
        }
    }

    fn synthesize(
        &self,
        config: HopConfig,
        mut layouter: impl Layouter<Fp>,
    ) -> std::result::Result<(), PlonkError> {
        let [a0, a1, a2, a3, a4] = config.advice;

        struct Inputs {
            pseudonym: Cell,
            country: Cell,
            attribute: Cell,
            secret: Cell,
            embargo_version: Cell,
            max_hops: Cell,
            link_prev: Cell,
            upstream_count: Cell,
            tag_secret: Cell,
            tag_credential: Cell,
            tag_embargo: Cell,
            tag_policy: Cell,
            tag_link: Cell,
        }
        let inputs = layouter.assign_region(
            || "private inputs",
            |mut region| {
                let tag = |region: &mut Region<'_, Fp>,
                           column: Column<Advice>,
                           row: usize,
                           value: u64| {
                    region.assign_advice_from_constant(
                        || "domain tag",
                        column,
                        row,
                        Fp::from(value),
                    )
                };
                Ok(Inputs {
                    pseudonym: region.assign_advice(|| "pseudonym", a0, 0, || self.pseudonym)?,
                    country: region.assign_advice(|| "country", a1, 0, || self.country)?,
                    attribute: region.assign_advice(|| "attribute", a2, 0, || self.attribute)?,
                    secret: region.assign_advice(|| "secret", a3, 0, || self.secret)?,
                    embargo_version: region.assign_advice(
                        || "embargo version",
                        a4,
                        0,
                        || self.embargo_version,
                    )?,
                    max_hops: region.assign_advice(|| "max hops", a0, 1, || self.max_hops)?,
                    link_prev: region.assign_advice(|| "link prev", a1, 1, || self.link_prev)?,
                    upstream_count: region.assign_advice(
                        || "upstream count",
                        a2,
                        1,
                        || self.upstream_count,
                    )?,
                    tag_secret: tag(&mut region, a3, 1, tags::TAG_SECRET)?,
                    tag_credential: tag(&mut region, a4, 1, tags::TAG_CREDENTIAL)?,
                    tag_embargo: tag(&mut region, a0, 2, tags::TAG_EMBARGO)?,
                    tag_policy: tag(&mut region, a1, 2, tags::TAG_POLICY)?,
                    tag_link: tag(&mut region, a2, 2, tags::TAG_LINK)?,
                })
            },
        )?;

        // (a), (b): the leaf from the opening, then the path to the root.
        let secret_hash = hash(
            &config.poseidon_credential,
            layouter.namespace(|| "secret hash"),
            [inputs.tag_secret.clone(), inputs.secret.clone()],
        )?;
        let mut node = hash(
            &config.poseidon_credential,
            layouter.namespace(|| "credential commitment"),
            [
                inputs.tag_credential.clone(),
                inputs.pseudonym.clone(),
                inputs.country.clone(),
                inputs.attribute.clone(),
                secret_hash,
            ],
        )?;
        for level in 0..CREDENTIAL_TREE_DEPTH {
            let (left, right) = layouter.assign_region(
                || format!("merkle swap {level}"),
                |mut region| {
                    config.s_swap.enable(&mut region, 0)?;
                    let cur = node.copy_advice(|| "cur", &mut region, a0, 0)?;
                    let sibling =
                        region.assign_advice(|| "sibling", a1, 0, || self.siblings[level])?;
                    let bit = region.assign_advice(|| "bit", a2, 0, || self.bits[level])?;
                    let (c, s, b) =
                        (cur.value().copied(), sibling.value().copied(), bit.value().copied());
                    let left_value = c.zip(s).zip(b).map(|((c, s), b)| c + b * (s - c));
                    let right_value = c.zip(s).zip(b).map(|((c, s), b)| s + b * (c - s));
                    let left = region.assign_advice(|| "left", a3, 0, || left_value)?;
                    let right = region.assign_advice(|| "right", a4, 0, || right_value)?;
                    Ok((left, right))
                },
            )?;
            node = hash(
                &config.poseidon_credential,
                layouter.namespace(|| format!("merkle node {level}")),
                [left, right],
            )?;
        }
        layouter.constrain_instance(node.cell(), config.instance, ROW_ROOT)?;

        // (c): the country differs from every embargo slot, and the slots open C_V.
        let embargo_slots = layouter.assign_region(
            || "not embargoed",
            |mut region| {
                let mut cells = Vec::with_capacity(EMBARGO_SLOTS + 2);
                cells.push(inputs.tag_embargo.copy_advice(|| "tag", &mut region, a3, 0)?);
                cells.push(inputs.embargo_version.copy_advice(|| "version", &mut region, a4, 0)?);
                for j in 0..EMBARGO_SLOTS {
                    config.s_embargo.enable(&mut region, j)?;
                    let country = inputs.country.copy_advice(|| "country", &mut region, a0, j)?;
                    let slot =
                        region.assign_advice(|| "embargo slot", a1, j, || self.embargo_slots[j])?;
                    let inverse = country
                        .value()
                        .copied()
                        .zip(slot.value().copied())
                        .map(|(c, e)| Option::from((c - e).invert()).unwrap_or(Fp::ZERO));
                    region.assign_advice(|| "inverse", a2, j, || inverse)?;
                    cells.push(slot);
                }
                Ok(cells)
            },
        )?;
        let embargo_commitment = hash::<{ EMBARGO_SLOTS + 2 }>(
            &config.poseidon_lists,
            layouter.namespace(|| "embargo commitment"),
            array(embargo_slots)?,
        )?;
        layouter.constrain_instance(embargo_commitment.cell(), config.instance, ROW_EMBARGO)?;

        // (d): the attribute is one of the policy's slots, and the slots open P.
        let policy_slots = layouter.assign_region(
            || "allowed attribute",
            |mut region| {
                let mut cells = Vec::with_capacity(POLICY_SLOTS + 2);
                cells.push(inputs.tag_policy.copy_advice(|| "tag", &mut region, a4, 0)?);
                cells.push(inputs.max_hops.copy_advice(|| "max hops", &mut region, a4, 1)?);
                let mut product =
                    region.assign_advice_from_constant(|| "empty product", a2, 0, Fp::ONE)?;
                for j in 0..POLICY_SLOTS {
                    config.s_policy.enable(&mut region, j)?;
                    let attribute =
                        inputs.attribute.copy_advice(|| "attribute", &mut region, a0, j)?;
                    let slot =
                        region.assign_advice(|| "policy slot", a1, j, || self.policy_slots[j])?;
                    let prev = if j == 0 {
                        product.clone()
                    } else {
                        product.copy_advice(|| "prev", &mut region, a2, j)?
                    };
                    let value = prev
                        .value()
                        .copied()
                        .zip(attribute.value().copied())
                        .zip(slot.value().copied())
                        .map(|((p, a), s)| p * (a - s));
                    product = region.assign_advice(|| "product", a3, j, || value)?;
                    cells.push(slot);
                }
                region.constrain_constant(product.cell(), Fp::ZERO)?;
                Ok(cells)
            },
        )?;
        let policy_commitment = hash::<{ POLICY_SLOTS + 2 }>(
            &config.poseidon_lists,
            layouter.namespace(|| "policy commitment"),
            array(policy_slots)?,
        )?;
        layouter.constrain_instance(policy_commitment.cell(), config.instance, ROW_POLICY)?;

        // (e), (f): the link, binding the previous link, the secret and the upstream count.
        let link = hash(
            &config.poseidon_credential,
            layouter.namespace(|| "link"),
            [
                inputs.tag_link.clone(),
                inputs.link_prev.clone(),
                inputs.secret.clone(),
                inputs.upstream_count.clone(),
            ],
        )?;
        layouter.constrain_instance(inputs.link_prev.cell(), config.instance, ROW_LINK_PREV)?;
        layouter.constrain_instance(link.cell(), config.instance, ROW_LINK)?;
        layouter.constrain_instance(inputs.upstream_count.cell(), config.instance, ROW_UPSTREAM)?;
        Ok(())
    }
}

//! What anyone may read from the registry, from the command line: `omni registry
//! status|reputation|members|cycles|roots` (and `invoice`, in [`crate::registry_cmd`]).
//! Identifiers are hex in arguments and answers; `--json` prints one object whose keys
//! are stable. Exit 1 when the registry does not hold what was asked, 2 when it could not
//! be asked.

use crate::node_client::{CannotAsk, Refused};
use crate::registry_api::{date, party_arg, RegistryApi, DEFAULT_REGISTRY};
use anyhow::Result;
use clap::Args;
use omni_registry_protocol::proto;
use serde_json::{json, Value};

/// The registry asked and the answer's form.
#[derive(Args)]
pub struct Ask {
    /// The registry's gRPC endpoint.
    #[arg(long, default_value = DEFAULT_REGISTRY)]
    registry: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `omni registry reputation`.
#[derive(Args)]
pub struct ReputationArgs {
    #[command(flatten)]
    ask: Ask,
    /// The payer's party key (hex).
    #[arg(long)]
    payer: String,
}

/// Arguments of `omni registry members`.
#[derive(Args)]
pub struct MembersArgs {
    #[command(flatten)]
    ask: Ask,
    /// Only members of this role.
    #[arg(long)]
    role: Option<String>,
}

/// Arguments of `omni registry cycles`.
#[derive(Args)]
pub struct CyclesArgs {
    #[command(flatten)]
    ask: Ask,
    /// Only cycles this party takes part in (hex).
    #[arg(long)]
    participant: Option<String>,
    /// Only this cycle.
    #[arg(long)]
    cycle: Option<u64>,
}

/// Arguments of `omni registry roots`.
#[derive(Args)]
pub struct RootsArgs {
    #[command(flatten)]
    ask: Ask,
    /// This height only (default: the latest heights).
    #[arg(long)]
    height: Option<u64>,
    /// How many of the latest heights.
    #[arg(long, default_value_t = 10)]
    last: u64,
}

fn at_json(at: Option<&proto::At>) -> Value {
    let at = at.cloned().unwrap_or_default();
    json!({ "height": at.height, "time": date(at.time), "state_root": hex::encode(&at.state_root) })
}

/// `omni registry status`.
pub fn status(ask: &Ask) -> Result<()> {
    let api = RegistryApi::connect(&ask.registry)?;
    let s = api.call("GetStatus", api.rpc.clone().get_status(proto::GetStatusRequest {}))?;
    let at = s.at.clone().unwrap_or_default();
    if ask.json {
        println!(
            "{}",
            json!({ "registry_id": hex::encode(&s.registry_id), "name": s.name,
                    "height": at.height, "time": date(at.time),
                    "state_root": hex::encode(&at.state_root), "members": s.members,
                    "invoices": s.invoices, "netting_cycles": s.netting_cycles,
                    "proof_verifier": s.proof_verifier })
        );
    } else {
        println!("registry {} ({})", s.name, hex::encode(&s.registry_id));
        println!(
            "  height {} at {}, state root {}",
            at.height,
            date(at.time),
            hex::encode(&at.state_root)
        );
        println!(
            "  {} members, {} invoices, {} netting cycles",
            s.members, s.invoices, s.netting_cycles
        );
        println!("  rating proofs: {}", s.proof_verifier);
    }
    Ok(())
}

/// A reputation as JSON (the keys `omni registry invoice` and `omni finance` print too).
pub fn reputation_json(r: &proto::Reputation) -> Value {
    json!({
        "payer": hex::encode(&r.payer), "computed_at": date(r.computed_at),
        "invoices": r.invoices, "accepted": r.accepted, "disputed": r.disputed,
        "paid_on_time": r.paid_on_time, "paid_late": r.paid_late, "overdue": r.overdue,
        "open": r.open, "assessed": r.assessed, "on_time_ratio_bp": r.on_time_ratio_bp,
        "average_days_beyond_terms": r.average_days_beyond_terms, "paydex": r.paydex,
    })
}

/// `omni registry reputation`.
pub fn reputation(args: &ReputationArgs) -> Result<()> {
    let payer = party_arg("payer", &args.payer)?;
    let api = RegistryApi::connect(&args.ask.registry)?;
    let request = proto::GetReputationRequest { payer: payer.0.to_vec(), at_time: 0 };
    let answer = api.call("GetReputation", api.rpc.clone().get_reputation(request))?;
    let r = answer.reputation.unwrap_or_default();
    if args.ask.json {
        let mut v = reputation_json(&r);
        v["at"] = at_json(answer.at.as_ref());
        println!("{v}");
    } else {
        println!(
            "payer {payer}: {} invoices, {} accepted, {} disputed",
            r.invoices, r.accepted, r.disputed
        );
        println!(
            "  {} paid on time, {} paid late, {} overdue, {} open",
            r.paid_on_time, r.paid_late, r.overdue, r.open
        );
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        println!(
            "  on-time ratio {} bp, {} days beyond terms on average, PAYDEX {}",
            opt(r.on_time_ratio_bp),
            opt(r.average_days_beyond_terms),
            opt(r.paydex)
        );
    }
    Ok(())
}

/// `omni registry members`: the same list as `omni member list`.
pub fn members(args: MembersArgs) -> Result<()> {
    crate::member_cmd::list(&args.ask.registry, args.role, args.ask.json)
}

/// A netting cycle as JSON, ids in hex.
pub fn cycle_json(c: &proto::NettingCycle) -> Value {
    let participants: Vec<Value> = c
        .participants
        .iter()
        .map(|p| {
            json!({ "party": hex::encode(&p.party), "joined": p.joined,
                    "position_commitment": hex::encode(&p.position_commitment), "net": p.net })
        })
        .collect();
    let instructions: Vec<Value> = c
        .instructions
        .iter()
        .map(|i| {
            json!({ "index": i.index, "from": hex::encode(&i.from), "to": hex::encode(&i.to),
                    "amount": i.amount, "confirmed_at": i.confirmed_at.map(date) })
        })
        .collect();
    json!({
        "cycle": c.id, "opener": hex::encode(&c.opener), "currency": c.currency,
        "cutoff": date(c.cutoff), "opened_at": date(c.opened_at), "phase": c.phase,
        "participants": participants,
        "invoices": c.invoices.iter().map(hex::encode).collect::<Vec<_>>(),
        "instructions": instructions, "settled_at": c.settled_at.map(date),
        "settled_volume": c.settled_volume,
    })
}

/// One line per cycle and one per instruction.
pub fn print_cycle(c: &proto::NettingCycle) {
    let joined = c.participants.iter().filter(|p| p.joined).count();
    println!(
        "cycle {} ({}): {}, {} of {} joined, {} invoices due by {}",
        c.id,
        c.currency,
        c.phase,
        joined,
        c.participants.len(),
        c.invoices.len(),
        date(c.cutoff)
    );
    for i in &c.instructions {
        println!(
            "  #{} {} pays {} {}{}",
            i.index,
            hex::encode(&i.from),
            hex::encode(&i.to),
            omni_core::money::format_micros(i.amount),
            if i.confirmed_at.is_some() { " (confirmed)" } else { "" }
        );
    }
}

/// `omni registry cycles`.
pub fn cycles(args: &CyclesArgs) -> Result<()> {
    let api = RegistryApi::connect(&args.ask.registry)?;
    let (cycles, at) = match args.cycle {
        Some(cycle) => {
            let request = proto::GetNettingCycleRequest { cycle };
            let a = api.call("GetNettingCycle", api.rpc.clone().get_netting_cycle(request))?;
            match a.cycle.filter(|_| a.found) {
                Some(c) => (vec![c], a.at),
                None => return Err(Refused(format!("the registry holds no cycle {cycle}")).into()),
            }
        }
        None => {
            let participant = match &args.participant {
                Some(p) => party_arg("participant", p)?.0.to_vec(),
                None => Vec::new(),
            };
            let request = proto::ListNettingCyclesRequest { participant };
            let a = api.call("ListNettingCycles", api.rpc.clone().list_netting_cycles(request))?;
            (a.cycles, a.at)
        }
    };
    if args.ask.json {
        let cycles: Vec<Value> = cycles.iter().map(cycle_json).collect();
        println!("{}", json!({ "cycles": cycles, "at": at_json(at.as_ref()) }));
    } else {
        if cycles.is_empty() {
            println!("no netting cycles");
        }
        cycles.iter().for_each(print_cycle);
    }
    Ok(())
}

/// `omni registry roots`: block hash and state root per height.
pub fn roots(args: &RootsArgs) -> Result<()> {
    let api = RegistryApi::connect(&args.ask.registry)?;
    let root = |height: u64| {
        api.call("GetRoot", api.rpc.clone().get_root(proto::GetRootRequest { height }))
    };
    let heights: Vec<u64> = match args.height {
        Some(h) => vec![h],
        None => {
            let latest = root(0)?.at.map_or(0, |a| a.height);
            (latest.saturating_sub(args.last.max(1) - 1).max(1)..=latest).rev().collect()
        }
    };
    let mut rows = Vec::new();
    for h in heights {
        let r = root(h)?;
        if !r.found {
            if args.height.is_some() {
                return Err(Refused(format!("this validator has not committed height {h}")).into());
            }
            continue;
        }
        rows.push(json!({ "height": r.height, "block_hash": hex::encode(&r.block_hash),
                          "state_root": hex::encode(&r.state_root) }));
    }
    if rows.is_empty() && args.height.is_none() {
        return Err(CannotAsk("the registry has committed no block yet".into()).into());
    }
    if args.ask.json {
        println!("{}", json!({ "roots": rows }));
    } else {
        for r in &rows {
            println!(
                "{:>8}  block {}  state root {}",
                r["height"],
                r["block_hash"].as_str().unwrap_or_default(),
                r["state_root"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

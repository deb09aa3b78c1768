//! `omni member admit`: the registry's membership administrator admits a member with a
//! role (MEF 114 R53), signed with the administrator's key and delivered through a
//! persistent outbox beside that key (`KEY.outbox`), so a command run twice after a lost
//! answer never admits twice.

use crate::node_client::{CannotAsk, Refused};
use anyhow::Result;
use clap::Subcommand;
use omni_core::PartyId;
use omni_node::registry_client::RegistryClient;
use omni_registry_types::tx::{Role, TxBody};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `omni member …`
#[derive(Subcommand)]
pub enum MemberCommand {
    /// Admit a member with a role (the membership administrator).
    Admit {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = "http://127.0.0.1:7400")]
        registry: String,
        /// The administrator's key file (`omni registry start` writes DATA/admin.key).
        #[arg(long)]
        key: PathBuf,
        /// The new member's party key (hex).
        #[arg(long)]
        member: String,
        /// member, financier, regulator, operator or admin.
        #[arg(long, default_value = "member")]
        role: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `omni member …`.
pub fn run(command: MemberCommand) -> Result<()> {
    let MemberCommand::Admit { registry, key, member, role, json } = command;
    let member = PartyId::from_hex(&member)
        .map_err(|e| CannotAsk(format!("--member {member:?}: not a party key: {e}")))?;
    let role = match role.as_str() {
        "member" => Role::Member,
        "financier" => Role::Financier,
        "regulator" => Role::Regulator,
        "operator" => Role::Operator,
        "admin" => Role::Admin,
        other => {
            return Err(CannotAsk(format!(
                "--role {other:?}: member, financier, regulator, operator or admin"
            ))
            .into())
        }
    };
    let keypair = omni_node::config::read_key_file(&key).map_err(|e| CannotAsk(e.to_string()))?;
    let outbox_dir = PathBuf::from(format!("{}.outbox", key.display()));
    let runtime = tokio::runtime::Runtime::new()?;
    let _entered = runtime.enter();
    let client = RegistryClient::open(&outbox_dir, keypair, registry.clone())
        .map_err(|e| CannotAsk(format!("registry outbox {}: {e}", outbox_dir.display())))?;
    let fact = omni_core::Hash32::digest("omni/cli/admit", &omni_core::encode(&(member, role)));
    let (id, _) = client
        .submit_once(&fact, TxBody::AdmitMember { member, role })
        .map_err(|e| CannotAsk(e.to_string()))?;
    client.start().map_err(|e| CannotAsk(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = loop {
        if let Some(d) = client.delivery(id).map_err(|e| CannotAsk(e.to_string()))? {
            break Ok(d);
        }
        if let Some(r) = client.refusal(id).map_err(|e| CannotAsk(e.to_string()))? {
            break Err(r);
        }
        if Instant::now() > deadline {
            let status = client.status().ok().and_then(|s| s.last_error).unwrap_or_default();
            return Err(CannotAsk(format!(
                "the registry at {registry} did not confirm the admission within 30 s ({status}); \
                 it stays queued in {} and is sent by the next run",
                outbox_dir.display()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    runtime.block_on(client.close()).map_err(|e| CannotAsk(e.to_string()))?;
    match outcome {
        Ok(d) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "member": member.to_hex(), "role": format!("{role:?}"),
                                        "tx": d.tx_hash.to_string() })
                );
            } else {
                println!("{member} admitted as {role:?} (transaction {})", d.tx_hash);
            }
            Ok(())
        }
        Err(r) => Err(Refused(format!("AdmitMember: {} ({})", r.reason, r.code)).into()),
    }
}

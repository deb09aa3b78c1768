//! The registry's members at work from the command line (MEF 114 R13, R53):
//!
//! - `omni member admit|remove|list|show`: the membership administrator admits a member
//!   with a role or removes one; anyone lists the members or reads one member's role,
//!   admission and conformance.
//! - `omni credential issue|revoke`: the administrator puts a member's jurisdiction
//!   credential commitment in the credential tree (the credential itself stays with the
//!   member) or empties its leaf.
//! - `omni conformance publish`: a member publishes its MEF 114 conformance declaration
//!   (the hash of the document and a short statement).
//!
//! Every transaction is signed with the sender's key file and delivered through a
//! persistent outbox beside that key (`KEY.outbox`; [`Signer`]), so a command run twice
//! after a lost answer never submits twice. Exit status 0: committed; 1: the registry refused it (its
//! reason and code printed); 2: it could not be asked (it stays queued and is sent by the
//! next run).

use crate::node_client::CannotAsk;
use crate::registry_api::{hash_arg, party_arg, RegistryApi, Signer};
use anyhow::Result;
use clap::Subcommand;
use omni_core::Hash32;
use omni_registry_protocol::proto;
use omni_registry_types::tx::{ConformanceDeclaration, Role, TxBody, MAX_STATEMENT_BYTES};
use serde_json::{json, Value};
use std::path::PathBuf;

/// `omni member …`
#[derive(Subcommand)]
pub enum MemberCommand {
    /// Admit a member with a role (the membership administrator).
    Admit {
        #[command(flatten)]
        signer: Signer,
        /// The new member's party key (hex).
        #[arg(long)]
        member: String,
        /// member, financier, regulator, operator or admin.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove a member (the membership administrator; the last admin stays).
    Remove {
        #[command(flatten)]
        signer: Signer,
        /// The member's party key (hex).
        #[arg(long)]
        member: String,
    },
    /// Every member, in party-key order, optionally of one role.
    List {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = crate::registry_api::DEFAULT_REGISTRY)]
        registry: String,
        /// Only members of this role (member, financier, regulator, operator or admin).
        #[arg(long)]
        role: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// A party as the registry knows it: member or not, role, admission, conformance.
    Show {
        /// The registry's gRPC endpoint.
        #[arg(long, default_value = crate::registry_api::DEFAULT_REGISTRY)]
        registry: String,
        /// The party key (hex).
        #[arg(long)]
        member: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `omni credential …`
#[derive(Subcommand)]
pub enum CredentialCommand {
    /// A member's request for a jurisdiction credential: a fresh secret and pseudonym kept
    /// in the credential file (OUT), and the request (pseudonym, country, attribute, the
    /// secret's hash) for the administrator.
    Request {
        /// The member's country (ISO 3166-1 alpha-2, alpha-3 or numeric code).
        #[arg(long)]
        country: String,
        /// The attribute the credential certifies (e.g. a service category code, ≥ 1).
        #[arg(long)]
        attribute: u16,
        /// The credential file to create (keep it secret: it proves the member's hops).
        #[arg(long)]
        out: PathBuf,
        /// The request file to create, for the administrator.
        #[arg(long)]
        request: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Put a member's jurisdiction credential commitment in the credential tree (the
    /// membership administrator); prints the leaf the registry gave it.
    Issue {
        #[command(flatten)]
        signer: Signer,
        /// The member the credential was issued to (party key, hex).
        #[arg(long)]
        member: String,
        /// The member's request (`omni credential request`): the administrator sees the
        /// country and attribute it certifies, and computes the commitment itself.
        #[arg(long, conflicts_with = "commitment", required_unless_present = "commitment")]
        request: Option<PathBuf>,
        /// The credential's commitment (64 hex digits), if the member computed it.
        #[arg(long)]
        commitment: Option<String>,
    },
    /// Revoke a credential: its leaf is empty in every later credential root.
    Revoke {
        #[command(flatten)]
        signer: Signer,
        /// The credential's leaf index.
        #[arg(long)]
        leaf: u64,
    },
}

/// `omni conformance …`
#[derive(Subcommand)]
pub enum ConformanceCommand {
    /// Publish this member's MEF 114 conformance declaration (R13): the SHA-256 of the
    /// declaration document and a short statement.
    Publish {
        #[command(flatten)]
        signer: Signer,
        /// The declaration document (e.g. docs/mef114-conformance.md); only its hash is
        /// published.
        #[arg(long)]
        document: PathBuf,
        /// What the member claims to implement, at most 1 024 bytes.
        #[arg(long)]
        statement: String,
    },
}

fn role_named(name: &str) -> Result<Role> {
    Ok(Role::from_name(name).ok_or_else(|| {
        CannotAsk(format!("--role {name:?}: member, financier, regulator, operator or admin"))
    })?)
}

/// Runs `omni member …`.
pub fn member(command: MemberCommand) -> Result<()> {
    match command {
        MemberCommand::Admit { signer, member, role } => {
            let member = party_arg("member", &member)?;
            let role = role_named(&role)?;
            let done = signer.submit(TxBody::AdmitMember { member, role })?;
            signer.print(
                json!({ "member": member.to_hex(), "role": role.name(), "tx": done.tx.to_string() }),
                format!("{member} admitted as {} (transaction {})", role.name(), done.tx),
            );
        }
        MemberCommand::Remove { signer, member } => {
            let member = party_arg("member", &member)?;
            let done = signer.submit(TxBody::RemoveMember { member })?;
            signer.print(
                json!({ "member": member.to_hex(), "tx": done.tx.to_string() }),
                format!("{member} removed (transaction {})", done.tx),
            );
        }
        MemberCommand::Show { registry, member, json } => show(&registry, &member, json)?,
        MemberCommand::List { registry, role, json } => list(&registry, role, json)?,
    }
    Ok(())
}

/// Runs `omni credential …`.
pub fn credential(command: CredentialCommand) -> Result<()> {
    match command {
        CredentialCommand::Request { country, attribute, out, request, json } => {
            crate::supply_chain_cmd::credential_request(&country, attribute, &out, &request, json)?
        }
        CredentialCommand::Issue { signer, member, request, commitment } => {
            let member = party_arg("member", &member)?;
            let commitment = match (request, commitment) {
                (Some(path), _) => crate::supply_chain_cmd::read_request(&path)?.1,
                (None, Some(hex)) => hash_arg("commitment", &hex)?,
                (None, None) => {
                    return Err(CannotAsk("give --request or --commitment".into()).into())
                }
            };
            let done = signer.submit(TxBody::IssueCredential { member, commitment })?;
            let leaf = done.event("CredentialIssued").and_then(|e| e["leaf"].as_u64());
            signer.print(
                json!({ "member": member.to_hex(), "commitment": commitment.to_hex(),
                        "leaf": leaf, "tx": done.tx.to_string() }),
                format!(
                    "credential of {member} issued at leaf {} (transaction {})",
                    leaf.map_or("?".to_string(), |l| l.to_string()),
                    done.tx
                ),
            );
        }
        CredentialCommand::Revoke { signer, leaf } => {
            let done = signer.submit(TxBody::RevokeCredential { leaf })?;
            signer.print(
                json!({ "leaf": leaf, "tx": done.tx.to_string() }),
                format!("credential at leaf {leaf} revoked (transaction {})", done.tx),
            );
        }
    }
    Ok(())
}

/// Runs `omni conformance …`.
pub fn conformance(command: ConformanceCommand) -> Result<()> {
    let ConformanceCommand::Publish { signer, document, statement } = command;
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(CannotAsk(format!(
            "--statement: {} bytes, at most {MAX_STATEMENT_BYTES}",
            statement.len()
        ))
        .into());
    }
    let bytes = std::fs::read(&document)
        .map_err(|e| CannotAsk(format!("--document {}: {e}", document.display())))?;
    let document_hash = Hash32(sha256(&bytes));
    let declaration = ConformanceDeclaration { document_hash, statement: statement.clone() };
    let done = signer.submit(TxBody::PublishConformance(declaration))?;
    signer.print(
        json!({ "document_sha256": document_hash.to_hex(), "statement": statement,
                "tx": done.tx.to_string() }),
        format!("conformance declaration {} published (transaction {})", document_hash, done.tx),
    );
    Ok(())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn conformance_json(c: &proto::Conformance) -> Value {
    json!({ "document_sha256": hex::encode(&c.document_hash), "statement": c.statement,
            "published_at": c.published_at })
}

/// `omni member list`: every page of the registry's `ListMembers`.
pub fn list(registry: &str, role: Option<String>, json: bool) -> Result<()> {
    let role = match role {
        Some(name) => role_named(&name)?.name().to_string(),
        None => String::new(),
    };
    let api = RegistryApi::connect(registry)?;
    let (mut members, mut start_after, mut height) = (Vec::new(), Vec::new(), None);
    loop {
        let request = proto::ListMembersRequest { role: role.clone(), start_after, limit: 0 };
        let page = api.call("ListMembers", api.rpc.clone().list_members(request))?;
        height = height.or(page.at.as_ref().map(|a| a.height));
        members.extend(page.members);
        if page.next_start_after.is_empty() {
            break;
        }
        start_after = page.next_start_after;
    }
    if json {
        let members: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({ "member": hex::encode(&m.party), "role": m.role,
                        "admitted_at": m.admitted_at, "admitted_height": m.admitted_height,
                        "conformance": m.conformance.as_ref().map(conformance_json) })
            })
            .collect();
        println!("{}", json!({ "members": members, "height": height }));
    } else {
        for m in &members {
            println!("{} {:<9} since height {}", hex::encode(&m.party), m.role, m.admitted_height);
        }
    }
    Ok(())
}

/// `omni member show`: the registry's `GetMember` answer.
fn show(registry: &str, member: &str, json: bool) -> Result<()> {
    let party = party_arg("member", member)?;
    let api = RegistryApi::connect(registry)?;
    let request = proto::GetMemberRequest { party: party.0.to_vec() };
    let answer = api.call("GetMember", api.rpc.clone().get_member(request))?;
    let conformance = answer.conformance.as_ref().map(conformance_json);
    let v = json!({
        "member": party.to_hex(),
        "is_member": answer.member,
        "role": answer.role,
        "admitted_at": answer.admitted_at,
        "admitted_height": answer.admitted_height,
        "next_nonce": answer.next_nonce,
        "conformance": conformance,
        "height": answer.at.as_ref().map(|a| a.height),
    });
    if json {
        println!("{v}");
    } else if answer.member {
        println!("{party}: {} since height {}", answer.role, answer.admitted_height);
        if let Some(c) = &answer.conformance {
            println!("  conformance: {} ({})", c.statement, hex::encode(&c.document_hash));
        }
    } else {
        println!("{party} is not a member");
    }
    Ok(())
}

//! The registry's gRPC service (tonic), the server side of `omni-registry-protocol`
//! (`registry/protocol/proto/registry.proto`).
//!
//! [`RegistryApi`] serves the `omni.registry.v1.Registry` service: `Submit` for signed
//! transactions and queries for regulators (anchors, verified invoices), financiers
//! (invoice status, pledge check, reputation) and carriers (netting cycles). Each answer
//! is read under one read lock of the state and names the height, time and state root it
//! was read from ([`proto::At`]).
//!
//! Refusals map to gRPC codes by what was wrong ([`status_of`]); a malformed request is
//! refused by itself and the server keeps serving.

use crate::block::Registry;
use crate::error::Error;
use crate::mempool::Arrival;
use crate::netting::NettingCycle;
use crate::records::{Invoice, InvoiceStatus, Member};
use crate::state::{ComplianceRecord, EmbargoRecord, Event};
use crate::tx::{InvoiceId, Nullifier, Role, SignedTx, TxBody};
use crate::validator::Node;
use omni_circuits::compliance::field_to_bytes;
use omni_core::{Hash32, PartyId};
use omni_registry_protocol::convert::{anchor_to_proto, invoice_to_proto, reputation_to_proto};
use omni_registry_protocol::proto;
use std::sync::{Arc, RwLockReadGuard};
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status};

use proto::registry_server::Registry as RegistryRpc;

/// The gRPC code for a refusal.
pub fn status_of(e: &Error) -> Status {
    let code = match e {
        Error::MalformedTx(_)
        | Error::TxTooLarge { .. }
        | Error::InvalidField { .. }
        | Error::InvalidCommitment(_)
        | Error::InvalidBlinding(_)
        | Error::ProofRejected { .. }
        | Error::ComplianceMapRejected { .. }
        | Error::StaleEmbargoList { .. }
        | Error::UnacceptedCredentialRoot { .. }
        | Error::OpeningMismatch { .. }
        | Error::UnbalancedNets { .. } => Code::InvalidArgument,
        Error::BadSignature { .. } => Code::Unauthenticated,
        Error::NotAMember { .. }
        | Error::WrongRole { .. }
        | Error::NotPayer { .. }
        | Error::NotPayee { .. }
        | Error::NotPledgeHolder { .. }
        | Error::NotParticipant { .. } => Code::PermissionDenied,
        Error::BadNonce { .. }
        | Error::NonceTooFarAhead { .. }
        | Error::PayerNotMember { .. }
        | Error::LastAdmin { .. }
        | Error::StaleAnchor { .. }
        | Error::InvoiceStatus { .. }
        | Error::CreditRefused { .. }
        | Error::InvoiceInNettingCycle { .. }
        | Error::NoPaymentNotice(_)
        | Error::PaymentRefMismatch { .. }
        | Error::NotPledgeable { .. }
        | Error::CyclePhase { .. }
        | Error::AlreadyDone { .. }
        | Error::CredentialRevoked(_)
        | Error::EmbargoVersion { .. }
        | Error::NoEmbargoList => Code::FailedPrecondition,
        Error::AlreadyMember { .. }
        | Error::DuplicateInvoice(_)
        | Error::CommitmentReused { .. }
        | Error::AlreadyPledged(_)
        | Error::CredentialExists { .. }
        | Error::DuplicateComplianceMap { .. } => Code::AlreadyExists,
        Error::UnknownInvoice(_)
        | Error::UnknownPledge(_)
        | Error::UnknownCycle(_)
        | Error::UnknownInstruction { .. }
        | Error::UnknownCredential(_) => Code::NotFound,
        Error::BlockHeight { .. }
        | Error::BlockTime { .. }
        | Error::StateRootMismatch { .. }
        | Error::InvalidGenesis(_)
        | Error::GenesisMismatch { .. }
        | Error::RatingKeysMismatch { .. }
        | Error::Store(_) => Code::Internal,
        Error::Server(_) => Code::Unavailable,
    };
    Status::new(code, e.to_string())
}

/// The `omni.registry.v1.Registry` service.
#[derive(Clone)]
pub struct RegistryApi {
    node: Arc<Node>,
}

impl RegistryApi {
    pub(crate) fn new(node: Arc<Node>) -> RegistryApi {
        RegistryApi { node }
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Registry>, Status> {
        self.node.registry.read().map_err(|_| Status::internal("registry state lock poisoned"))
    }
}

fn embargo_to_proto(e: &EmbargoRecord) -> proto::EmbargoList {
    proto::EmbargoList {
        version: e.list.version(),
        countries: e.list.countries().iter().map(|&c| u32::from(c)).collect(),
        published_by: e.published_by.0.to_vec(),
        published_at: e.published_at,
    }
}

fn compliance_to_proto(c: &ComplianceRecord, status: &str) -> proto::OrderCompliance {
    proto::OrderCompliance {
        order: c.order.0.to_vec(),
        status: status.into(),
        embargo_version: c.embargo_version,
        map_commitment: c.map_commitment.0.to_vec(),
        hops: c.hops,
        max_hops: c.max_hops,
        submitted_by: c.submitted_by.0.to_vec(),
        verified_at: c.verified_at,
        credential_root: c.credential_root.0.to_vec(),
    }
}

fn at(r: &Registry) -> proto::At {
    let s = r.state();
    proto::At { height: s.height(), time: s.time(), state_root: s.state_root().0.to_vec() }
}

/// One page of `matching`: at most `limit` items (0, or more than [`MAX_PAGE`]:
/// [`MAX_PAGE`]) and, when more match, the `start_after` of the next page (the `key` of
/// this page's last item; empty when this page is the last).
fn page<T>(
    mut matching: impl Iterator<Item = T>,
    limit: u32,
    key: impl Fn(&T) -> Vec<u8>,
) -> (Vec<T>, Vec<u8>) {
    let limit = match limit as usize {
        0 => MAX_PAGE,
        n => n.min(MAX_PAGE),
    };
    let page: Vec<T> = matching.by_ref().take(limit).collect();
    let next = match (matching.next(), page.last()) {
        (Some(_), Some(last)) => key(last),
        _ => Vec::new(),
    };
    (page, next)
}

fn member_entry(m: &Member) -> proto::MemberEntry {
    proto::MemberEntry {
        party: m.party.0.to_vec(),
        role: m.role.name().to_string(),
        admitted_at: m.admitted_at,
        admitted_height: m.admitted_height,
        conformance: m.conformance.as_ref().map(|c| proto::Conformance {
            document_hash: c.declaration.document_hash.0.to_vec(),
            statement: c.declaration.statement.clone(),
            published_at: c.published_at,
        }),
    }
}

fn bytes32(field: &'static str, v: &[u8]) -> Result<[u8; 32], Status> {
    v.try_into().map_err(|_| {
        Status::invalid_argument(format!("{field}: expected 32 bytes, got {}", v.len()))
    })
}

fn optional32(field: &'static str, v: &[u8]) -> Result<Option<[u8; 32]>, Status> {
    if v.is_empty() {
        Ok(None)
    } else {
        bytes32(field, v).map(Some)
    }
}

fn events(evs: &[Event]) -> Vec<proto::Event> {
    evs.iter()
        .map(|e| proto::Event {
            kind: e.kind().to_string(),
            json: serde_json::to_string(e).unwrap_or_default(),
        })
        .collect()
}

/// The protobuf form of a netting cycle.
pub fn cycle_to_proto(c: &NettingCycle) -> proto::NettingCycle {
    proto::NettingCycle {
        id: c.id,
        opener: c.opener.0.to_vec(),
        currency: c.currency.code().to_string(),
        cutoff: c.cutoff,
        opened_at: c.opened_at,
        phase: c.phase.name().to_string(),
        participants: c
            .participants
            .iter()
            .map(|(party, p)| proto::Participant {
                party: party.0.to_vec(),
                joined: p.joined,
                position_commitment: p.position.map(|c| c.0.to_vec()).unwrap_or_default(),
                net: p.net,
            })
            .collect(),
        invoices: c.invoices.iter().map(|i| i.0 .0.to_vec()).collect(),
        instructions: c
            .instructions
            .iter()
            .enumerate()
            .map(|(i, t)| proto::SettlementInstruction {
                index: i as u32,
                from: t.from.0.to_vec(),
                to: t.to.0.to_vec(),
                amount: t.amount,
                confirmed_at: t.confirmed_at,
            })
            .collect(),
        settled_at: c.settled_at,
        settled_volume: c.settled_volume().to_string(),
    }
}

/// Most invoices one `ListInvoices` page returns.
pub const MAX_PAGE: usize = 1000;

#[tonic::async_trait]
impl RegistryRpc for RegistryApi {
    async fn submit(
        &self,
        request: Request<proto::SubmitRequest>,
    ) -> Result<Response<proto::SubmitResponse>, Status> {
        let request = request.into_inner();
        let bytes = match (request.tx.is_empty(), request.transaction) {
            (false, None) => request.tx,
            // The portable form, stored as its format byte and the message as it arrived
            // re-encoded (the canonical check refuses anything else).
            (true, Some(t)) => {
                use prost::Message;
                let mut bytes = vec![crate::portable::PORTABLE_FORMAT];
                bytes.extend(t.encode_to_vec());
                bytes
            }
            (false, Some(_)) => {
                return Err(Status::invalid_argument("give tx or transaction, not both"))
            }
            (true, None) => return Err(Status::invalid_argument("no transaction given")),
        };
        // The mempool check (batched with whatever else arrived) refuses early what can
        // never execute; what passes waits in the mempool until its block is committed.
        let (reply, answer) = oneshot::channel();
        self.node.checks.push(Arrival::Client(bytes, reply));
        let committed = answer
            .await
            .map_err(|_| {
                Status::unavailable("the registry stopped before executing the transaction")
            })?
            .map_err(|e| status_of(&e))?;
        Ok(Response::new(proto::SubmitResponse {
            tx_hash: committed.tx_hash.0.to_vec(),
            at: Some(proto::At {
                height: committed.height,
                time: committed.time,
                state_root: committed.state_root.0.to_vec(),
            }),
            events: events(&committed.events),
        }))
    }

    async fn get_tx(
        &self,
        request: Request<proto::GetTxRequest>,
    ) -> Result<Response<proto::GetTxResponse>, Status> {
        let hash = Hash32(bytes32("tx_hash", &request.into_inner().tx_hash)?);
        let at = at(&*self.read()?);
        let store = &self.node.store;
        let located = store.tx_location(&hash).map_err(|e| status_of(&e))?;
        let Some((height, index)) = located else {
            return Ok(Response::new(proto::GetTxResponse {
                found: false,
                at: Some(at),
                ..Default::default()
            }));
        };
        let block = store
            .block(height)
            .map_err(|e| status_of(&e))?
            .ok_or_else(|| Status::internal(format!("block {height} missing")))?;
        let result = block
            .results
            .get(index as usize)
            .ok_or_else(|| Status::internal(format!("block {height} has no tx {index}")))?;
        let mut out =
            proto::GetTxResponse { found: true, height, index, at: Some(at), ..Default::default() };
        match &result.result {
            Ok(evs) => {
                out.accepted = true;
                out.events = events(evs);
            }
            Err(e) => {
                out.error_code = e.code.clone();
                out.error = e.message.clone();
            }
        }
        Ok(Response::new(out))
    }

    async fn get_status(
        &self,
        _request: Request<proto::GetStatusRequest>,
    ) -> Result<Response<proto::GetStatusResponse>, Status> {
        let r = self.read()?;
        let s = r.state();
        Ok(Response::new(proto::GetStatusResponse {
            registry_id: s.registry_id().0.to_vec(),
            name: s.meta().name.clone(),
            at: Some(at(&r)),
            members: s.members().count() as u64,
            invoices: s.invoice_count() as u64,
            netting_cycles: s.cycles().count() as u64,
            proof_verifier: r.verifier().describe(),
        }))
    }

    async fn get_root(
        &self,
        request: Request<proto::GetRootRequest>,
    ) -> Result<Response<proto::GetRootResponse>, Status> {
        let height = request.into_inner().height;
        let at = at(&*self.read()?);
        let root = self.node.store.root_at(height).map_err(|e| status_of(&e))?;
        Ok(Response::new(match root {
            Some((block_hash, state_root)) => proto::GetRootResponse {
                found: true,
                height,
                block_hash: block_hash.0.to_vec(),
                state_root: state_root.0.to_vec(),
                at: Some(at),
            },
            None => {
                proto::GetRootResponse { found: false, height, at: Some(at), ..Default::default() }
            }
        }))
    }

    async fn get_member(
        &self,
        request: Request<proto::GetMemberRequest>,
    ) -> Result<Response<proto::GetMemberResponse>, Status> {
        let party = PartyId(bytes32("party", &request.into_inner().party)?);
        let r = self.read()?;
        let s = r.state();
        let mut out = proto::GetMemberResponse {
            at: Some(at(&r)),
            next_nonce: s.next_nonce(&party),
            ..Default::default()
        };
        if let Some(m) = s.member(&party) {
            let entry = member_entry(m);
            out.member = true;
            out.role = entry.role;
            out.admitted_at = entry.admitted_at;
            out.admitted_height = entry.admitted_height;
            out.conformance = entry.conformance;
        }
        Ok(Response::new(out))
    }

    async fn list_members(
        &self,
        request: Request<proto::ListMembersRequest>,
    ) -> Result<Response<proto::ListMembersResponse>, Status> {
        let q = request.into_inner();
        let role = match q.role.as_str() {
            "" => None,
            name => Some(Role::from_name(name).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "role {name:?}: admin, member, regulator, financier or operator"
                ))
            })?),
        };
        let after = optional32("start_after", &q.start_after)?.map(PartyId);
        let r = self.read()?;
        let matching = r
            .state()
            .members()
            .filter(|m| after.is_none_or(|a| m.party > a))
            .filter(|m| role.is_none_or(|role| m.role == role));
        let (members, next_start_after) = page(matching, q.limit, |m| m.party.0.to_vec());
        Ok(Response::new(proto::ListMembersResponse {
            at: Some(at(&r)),
            members: members.into_iter().map(member_entry).collect(),
            next_start_after,
        }))
    }

    async fn list_anchors(
        &self,
        request: Request<proto::ListAnchorsRequest>,
    ) -> Result<Response<proto::ListAnchorsResponse>, Status> {
        let bilateral = Hash32(bytes32("bilateral", &request.into_inner().bilateral)?);
        let r = self.read()?;
        Ok(Response::new(proto::ListAnchorsResponse {
            at: Some(at(&r)),
            anchors: r.state().anchors_of(&bilateral).map(anchor_to_proto).collect(),
        }))
    }

    async fn list_invoices(
        &self,
        request: Request<proto::ListInvoicesRequest>,
    ) -> Result<Response<proto::ListInvoicesResponse>, Status> {
        let q = request.into_inner();
        let payer = optional32("payer", &q.payer)?.map(PartyId);
        let payee = optional32("payee", &q.payee)?.map(PartyId);
        let bilateral = optional32("bilateral", &q.bilateral)?.map(Hash32);
        let after = optional32("start_after", &q.start_after)?.map(|b| InvoiceId(Hash32(b)));
        let status = match q.status.as_str() {
            "" => None,
            name => Some(
                InvoiceStatus::named(name)
                    .ok_or_else(|| Status::invalid_argument(format!("unknown status {name:?}")))?,
            ),
        };
        let r = self.read()?;
        let s = r.state();
        let candidates: Box<dyn Iterator<Item = &Invoice>> = match (payer, payee) {
            (Some(p), _) => Box::new(s.invoices_of_payer(&p)),
            (None, Some(p)) => Box::new(s.invoices_of_payee(&p)),
            (None, None) => Box::new(s.invoices()),
        };
        let matching = candidates
            .filter(|i| after.is_none_or(|a| i.invoice > a))
            .filter(|i| payee.is_none_or(|p| i.payee == p))
            .filter(|i| bilateral.is_none_or(|b| i.bilateral == b))
            .filter(|i| status.is_none_or(|st| i.status == st));
        let (invoices, next_start_after) = page(matching, q.limit, |i| i.invoice.0 .0.to_vec());
        Ok(Response::new(proto::ListInvoicesResponse {
            at: Some(at(&r)),
            next_start_after,
            invoices: invoices
                .into_iter()
                .map(|i| invoice_to_proto(i, s.credits(&i.invoice)))
                .collect(),
        }))
    }

    async fn get_invoice(
        &self,
        request: Request<proto::GetInvoiceRequest>,
    ) -> Result<Response<proto::GetInvoiceResponse>, Status> {
        let id = InvoiceId(Hash32(bytes32("invoice_id", &request.into_inner().invoice_id)?));
        let r = self.read()?;
        let s = r.state();
        let now = self.node.clock.now().max(s.time());
        Ok(Response::new(match s.invoice(&id) {
            Some(i) => proto::GetInvoiceResponse {
                at: Some(at(&r)),
                found: true,
                invoice: Some(invoice_to_proto(i, s.credits(&i.invoice))),
                payer_reputation: Some(reputation_to_proto(&s.reputation(&i.payer, now))),
            },
            None => proto::GetInvoiceResponse { at: Some(at(&r)), ..Default::default() },
        }))
    }

    async fn check_pledge(
        &self,
        request: Request<proto::CheckPledgeRequest>,
    ) -> Result<Response<proto::CheckPledgeResponse>, Status> {
        let n = Nullifier(bytes32("nullifier", &request.into_inner().nullifier)?);
        let r = self.read()?;
        Ok(Response::new(match r.state().pledge(&n) {
            Some(p) => proto::CheckPledgeResponse {
                at: Some(at(&r)),
                pledged: true,
                financier: p.financier.0.to_vec(),
                pledged_at: p.pledged_at,
                height: p.height,
            },
            None => proto::CheckPledgeResponse { at: Some(at(&r)), ..Default::default() },
        }))
    }

    async fn get_reputation(
        &self,
        request: Request<proto::GetReputationRequest>,
    ) -> Result<Response<proto::GetReputationResponse>, Status> {
        let q = request.into_inner();
        let payer = PartyId(bytes32("payer", &q.payer)?);
        let r = self.read()?;
        let s = r.state();
        let now = if q.at_time == 0 { self.node.clock.now().max(s.time()) } else { q.at_time };
        Ok(Response::new(proto::GetReputationResponse {
            at: Some(at(&r)),
            reputation: Some(reputation_to_proto(&s.reputation(&payer, now))),
        }))
    }

    async fn get_netting_cycle(
        &self,
        request: Request<proto::GetNettingCycleRequest>,
    ) -> Result<Response<proto::GetNettingCycleResponse>, Status> {
        let id = request.into_inner().cycle;
        let r = self.read()?;
        let cycle = r.state().cycle(id).map(cycle_to_proto);
        Ok(Response::new(proto::GetNettingCycleResponse {
            at: Some(at(&r)),
            found: cycle.is_some(),
            cycle,
        }))
    }

    async fn list_netting_cycles(
        &self,
        request: Request<proto::ListNettingCyclesRequest>,
    ) -> Result<Response<proto::ListNettingCyclesResponse>, Status> {
        let participant =
            optional32("participant", &request.into_inner().participant)?.map(PartyId);
        let r = self.read()?;
        Ok(Response::new(proto::ListNettingCyclesResponse {
            at: Some(at(&r)),
            cycles: r
                .state()
                .cycles()
                .filter(|c| participant.is_none_or(|p| c.participants.contains_key(&p)))
                .map(cycle_to_proto)
                .collect(),
        }))
    }

    async fn get_compliance_state(
        &self,
        _request: Request<proto::GetComplianceStateRequest>,
    ) -> Result<Response<proto::GetComplianceStateResponse>, Status> {
        let r = self.read()?;
        let s = r.state();
        Ok(Response::new(proto::GetComplianceStateResponse {
            at: Some(at(&r)),
            credential_root: s.credential_root().0.to_vec(),
            accepted_roots: s.accepted_credential_roots().iter().map(|h| h.0.to_vec()).collect(),
            embargo: s.current_embargo_list().map(embargo_to_proto),
            credentials: s.credential_count(),
            embargo_lists: s.embargo_lists().map(embargo_to_proto).collect(),
        }))
    }

    async fn get_credential_path(
        &self,
        request: Request<proto::GetCredentialPathRequest>,
    ) -> Result<Response<proto::GetCredentialPathResponse>, Status> {
        let leaf = request.into_inner().leaf;
        let r = self.read()?;
        let s = r.state();
        let path = s.credential_path(leaf).map_err(|e| status_of(&e))?;
        Ok(Response::new(proto::GetCredentialPathResponse {
            at: Some(at(&r)),
            credential_root: s.credential_root().0.to_vec(),
            leaf,
            siblings: path.siblings.iter().map(|f| field_to_bytes(f).to_vec()).collect(),
        }))
    }

    async fn list_compliance_status(
        &self,
        request: Request<proto::ListComplianceStatusRequest>,
    ) -> Result<Response<proto::ListComplianceStatusResponse>, Status> {
        let asked = request.into_inner().embargo_version;
        let r = self.read()?;
        let s = r.state();
        let version = match asked {
            0 => s.current_embargo_list().map_or(0, |e| e.list.version()),
            v => v,
        };
        let orders = s
            .compliance_status(version)
            .into_iter()
            .map(|(_, status)| compliance_to_proto(status.record(), status.name()))
            .collect();
        Ok(Response::new(proto::ListComplianceStatusResponse {
            at: Some(at(&r)),
            embargo_version: version,
            orders,
        }))
    }

    async fn get_compliance_map(
        &self,
        request: Request<proto::GetComplianceMapRequest>,
    ) -> Result<Response<proto::GetComplianceMapResponse>, Status> {
        let request = request.into_inner();
        let order = Hash32(bytes32("order", &request.order)?);
        let (record, at) = {
            let r = self.read()?;
            let s = r.state();
            let record = match request.embargo_version {
                0 => s.latest_compliance_record(&order),
                v => s.compliance_record(&order, v),
            };
            let status = |c: &ComplianceRecord| {
                let current = s.current_embargo_list().map_or(0, |e| e.list.version());
                if c.embargo_version == current {
                    "compliant"
                } else {
                    "outdated"
                }
            };
            (record.map(|c| compliance_to_proto(c, status(c))), at(&r))
        };
        let not_found =
            proto::GetComplianceMapResponse { at: Some(at.clone()), ..Default::default() };
        let Some(record) = record else { return Ok(Response::new(not_found)) };
        let store = &self.node.store;
        let located =
            store.map_location(&order, record.embargo_version).map_err(|e| status_of(&e))?;
        let (height, index) = located.ok_or_else(|| {
            Status::internal(format!("the map of order {order} is verified but not indexed"))
        })?;
        let block = store
            .block(height)
            .map_err(|e| status_of(&e))?
            .ok_or_else(|| Status::internal(format!("block {height} missing")))?;
        let bytes = block
            .block
            .txs
            .get(index as usize)
            .ok_or_else(|| Status::internal(format!("block {height} has no tx {index}")))?;
        let tx = SignedTx::from_bytes(bytes).map_err(|e| Status::internal(e.to_string()))?;
        let TxBody::SubmitComplianceMap { map } = tx.body else {
            return Err(Status::internal(format!("tx {index} of block {height} is not a map")));
        };
        Ok(Response::new(proto::GetComplianceMapResponse {
            at: Some(at),
            found: true,
            map,
            record: Some(record),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_json_and_refusals_map_to_codes() {
        let big = Event::SettlementInstructed {
            cycle: 1,
            transfers: 2,
            volume: i128::from(i64::MAX) * 3,
        };
        let rendered = events(&[big]);
        assert_eq!(rendered[0].kind, "SettlementInstructed");
        assert!(rendered[0].json.contains("27670116110564327421"), "{}", rendered[0].json);
        let p = PartyId([7; 32]);
        assert_eq!(status_of(&Error::MalformedTx("x".into())).code(), Code::InvalidArgument);
        assert_eq!(
            status_of(&Error::BadSignature { sender: p, reason: "r".into() }).code(),
            Code::Unauthenticated
        );
        assert_eq!(status_of(&Error::NotAMember { party: p }).code(), Code::PermissionDenied);
        assert_eq!(
            status_of(&Error::BadNonce { sender: p, expected: 2, got: 1 }).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            status_of(&Error::AlreadyPledged(Nullifier([1; 32]))).code(),
            Code::AlreadyExists
        );
        assert_eq!(status_of(&Error::UnknownCycle(3)).code(), Code::NotFound);
        assert!(bytes32("party", &[1, 2]).is_err());
        assert_eq!(optional32("payer", &[]).unwrap(), None);
    }
}

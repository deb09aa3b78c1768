//! The `Node` service: what the node is doing, for its operator (`omni node status`); the
//! clock it stamps entries with (`omni node clock`: a simulated clock, for rehearsals and
//! demos, is moved forwards here); the replay of a bilateral's chain (`omni node verify`).

use super::{bilateral, bill_proof, contract_status, proto, rfc3339, status_of, NodeContext};
use crate::config::SIMULATED_CLOCK_SETTING;
use crate::terms::parse_time;
use crate::Clock;
use proto::node_server::Node;
use tonic::{Request, Response, Status};

/// The node status service.
#[derive(Clone)]
pub struct NodeApi {
    node: NodeContext,
}

impl NodeApi {
    /// Serves `node`.
    pub fn new(node: NodeContext) -> Self {
        NodeApi { node }
    }
}

/// What a clock says: `system` or `simulated`, and its time.
fn clock_view(clock: &Clock) -> proto::ClockView {
    let unix = clock.now();
    let kind = match clock {
        Clock::System => "system",
        Clock::Manual(_) => "simulated",
    };
    proto::ClockView { clock: kind.to_string(), time: rfc3339(unix), unix }
}

#[tonic::async_trait]
impl Node for NodeApi {
    async fn get_status(
        &self,
        _: Request<proto::GetStatusRequest>,
    ) -> Result<Response<proto::NodeStatus>, Status> {
        let sync = self.node.sync.clone();
        let (party, bilaterals) = self
            .node
            .with_ledger(move |ledger| {
                let mut out = Vec::new();
                for id in ledger.bilaterals() {
                    let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                    let me = ledger.party(&id).map_err(|e| status_of(&e))?;
                    let counterparty = state.contract().counterparty(&me);
                    let holds = match (&sync, counterparty) {
                        (Some(sync), Some(c)) => {
                            // The counterparty node's key may be any of its signatories.
                            let c_index = state.contract().party_index(&c);
                            c_index
                                .map(|i| &state.contract().parties[i].signatories)
                                .into_iter()
                                .flatten()
                                .filter_map(|k| sync.acknowledged(&id, k))
                                .max()
                                .unwrap_or(0)
                        }
                        _ => 0,
                    };
                    let head = state.head();
                    out.push(proto::BilateralHead {
                        bilateral: id.0.to_hex(),
                        counterparty: counterparty.map(|c| c.to_hex()).unwrap_or_default(),
                        status: contract_status(state.status()).to_string(),
                        head_seq: head.seq,
                        head_hash: head.hash.to_hex(),
                        counterparty_holds: holds,
                    });
                }
                Ok((ledger.key().to_hex(), out))
            })
            .await?;
        let clock = self.node.clock().await?;
        let view = clock_view(&clock);
        let mut status = proto::NodeStatus {
            party,
            name: self.node.name.clone(),
            bilaterals,
            clock: match clock {
                Clock::System => view.clock,
                Clock::Manual(_) => format!("{} {}", view.clock, view.time),
            },
            ..Default::default()
        };
        if let Some(outbox) = &self.node.outbox {
            let s = outbox.status().map_err(|e| Status::internal(e.to_string()))?;
            status.registry = outbox.endpoint();
            status.outbox_pending = s.pending as u64;
            status.outbox_refused = s.refused as u64;
            status.outbox_delivered = s.delivered;
            status.outbox_last_error = s.last_error.unwrap_or_default();
        }
        if let Some(prover) = &self.node.prover {
            status.proving = prover
                .jobs()
                .into_iter()
                .map(|(id, number, job)| proto::ProvingJob {
                    bilateral: id.0.to_hex(),
                    bill_no: number,
                    proof: Some(bill_proof(Some(&job), "")),
                })
                .collect();
        }
        if let Some(sync) = &self.node.sync {
            status.peers = sync.connected().iter().map(|p| p.to_hex()).collect();
        }
        if let Some(keys) = &self.node.keys {
            status.rating_keys = hex::encode(keys.hash().0);
        }
        Ok(Response::new(status))
    }

    async fn get_clock(
        &self,
        _: Request<proto::GetClockRequest>,
    ) -> Result<Response<proto::ClockView>, Status> {
        Ok(Response::new(clock_view(&self.node.clock().await?)))
    }

    async fn set_clock(
        &self,
        request: Request<proto::SetClockRequest>,
    ) -> Result<Response<proto::ClockView>, Status> {
        let time = request.into_inner().time;
        let view = self
            .node
            .with_ledger(move |ledger| {
                // Under the ledger's lock: no entry is stamped while the clock moves.
                let clock = ledger.clock();
                if let Clock::System = clock {
                    return Err(Status::failed_precondition(format!(
                        "this node runs on the system clock; only a node configured with a \
                         simulated clock ({SIMULATED_CLOCK_SETTING}, rehearsals and demos only) \
                         can be set"
                    )));
                }
                let t = parse_time(&time).ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "time {time:?}: a date YYYY-MM-DD or an RFC 3339 date-time"
                    ))
                })?;
                let now = clock.now();
                if t < now {
                    return Err(Status::failed_precondition(format!(
                        "the clock is at {}; it cannot go back to {} (entry times never \
                         decrease)",
                        rfc3339(now),
                        rfc3339(t)
                    )));
                }
                clock.set(t);
                Ok(clock_view(clock))
            })
            .await?;
        tracing::info!(time = %view.time, "simulated clock set");
        Ok(Response::new(view))
    }

    async fn verify_bilateral(
        &self,
        request: Request<proto::BilateralRef>,
    ) -> Result<Response<proto::BilateralVerification>, Status> {
        let id = bilateral(&request.into_inner().bilateral)?;
        let verification = self
            .node
            .with_ledger(move |ledger| {
                let entries = ledger.state(&id).map_err(|e| status_of(&e))?.head().seq + 1;
                let digest = ledger.verify(&id).map_err(|e| status_of(&e))?;
                Ok(proto::BilateralVerification {
                    bilateral: id.0.to_hex(),
                    entries,
                    digest: digest.to_hex(),
                })
            })
            .await?;
        Ok(Response::new(verification))
    }
}

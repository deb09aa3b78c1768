//! The `Node` service: what the node is doing, for its operator (`omni node status`).

use super::{bill_proof, contract_status, proto, status_of, NodeContext};
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
        let mut status = proto::NodeStatus {
            party,
            name: self.node.name.clone(),
            bilaterals,
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
}

//! Reads of a shard this node holds no replica of (a cluster with more nodes than the
//! replication factor), answered by a node that holds one.
//!
//! ```text
//!  this node ── Cluster.Select / ReadSamples / Labels ──► a holder of the shard (placement
//!                                                         order, next one on failure)
//!                                                           ├─ read barrier for the shard
//!                                                           └─ its engine, that shard only
//! ```
//! Series ids are the same on every replica of a shard (they follow the apply order), so a
//! selection from one holder can be read from another.

use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::NodeId;
use cairn_consensus::network::PeerChannel;
use cairn_model::{Labels, MatchOp, Matcher, Sample};
use cairn_proto::cluster::cluster_client::ClusterClient;
use cairn_proto::cluster::{
    LabelMatcher, LabelsReply, LabelsRequest, ReadSamplesReply, ReadSamplesRequest, RemoteSeries,
    SelectReply, SelectRequest, SeriesSamples,
};
use cairn_storage::SeriesRef;
use tonic::Status;

use super::Cluster;
use crate::error::{Error, Result};

/// How long one holder may take to answer before the next one is asked.
const REMOTE_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Cluster {
    /// Whether this node holds a replica of `shard` (its reads are then local).
    pub fn has_replica(&self, shard: u32) -> bool {
        self.groups.has_shard(shard)
    }

    /// The series of `tenant` in `shard` matching `matchers` in `[mint, maxt]`.
    pub async fn remote_select(
        &self,
        tenant: &str,
        shard: u32,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesRef>> {
        let req = SelectRequest {
            tenant: tenant.to_string(),
            shard,
            matchers: matchers.iter().map(matcher_to_proto).collect(),
            mint,
            maxt,
            from: self.node_id(),
        };
        let reply = self
            .ask_holders(shard, &req, async |mut c, req| c.select(req).await)
            .await?;
        reply
            .series
            .into_iter()
            .map(|s| series_from_proto(shard, s))
            .collect()
    }

    /// The samples of series `sids` of `shard` in `[mint, maxt]`, one vector per id.
    pub async fn remote_samples(
        &self,
        shard: u32,
        sids: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Vec<Sample>>> {
        let req = ReadSamplesRequest {
            shard,
            sids: sids.to_vec(),
            mint,
            maxt,
            from: self.node_id(),
        };
        let reply = self
            .ask_holders(shard, &req, async |mut c, req| c.read_samples(req).await)
            .await?;
        one_per_id(shard, reply.series, sids.len())?
            .into_iter()
            .map(|s| samples_from_proto(shard, s))
            .collect()
    }

    /// Label names (`name` None) or the values of label `name` of `tenant`'s series in
    /// `shard` that match `matchers` (within `range` if given).
    pub async fn remote_labels(
        &self,
        tenant: &str,
        shard: u32,
        name: Option<&str>,
        matchers: &[Matcher],
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let (mint, maxt) = range.unwrap_or((i64::MIN, i64::MAX));
        let req = LabelsRequest {
            tenant: tenant.to_string(),
            shard,
            name: name.unwrap_or_default().to_string(),
            matchers: matchers.iter().map(matcher_to_proto).collect(),
            has_range: range.is_some(),
            mint,
            maxt,
            from: self.node_id(),
        };
        let reply = self
            .ask_holders(shard, &req, async |mut c, req| c.labels(req).await)
            .await?;
        Ok(reply.values)
    }

    /// Sends `req` with `call` to each node holding `shard` (placement order) until one
    /// answers.
    pub(super) async fn ask_holders<Q: Clone, T>(
        &self,
        shard: u32,
        req: &Q,
        call: impl AsyncFn(
            ClusterClient<PeerChannel>,
            Q,
        ) -> std::result::Result<tonic::Response<T>, Status>,
    ) -> Result<T> {
        let me = self.node_id();
        let holders: Vec<NodeId> = self
            .state()
            .placement
            .get(&shard)
            .map(|p| p.iter().copied().filter(|n| *n != me).collect())
            .unwrap_or_default();
        let mut last = Error::from(cairn_consensus::Error::NoReplica { shard });
        for node in holders {
            let client = match self.client_of(node) {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match super::call(node, REMOTE_READ_TIMEOUT, call(client, req.clone())).await {
                Ok(reply) => return Ok(reply),
                Err(e) => last = e,
            }
        }
        Err(Error::NoHolder {
            shard,
            last: Box::new(last),
        })
    }
}

// ---- serving side ----------------------------------------------------------------------

/// `Cluster.Select` on a holder of the shard.
pub(crate) async fn serve_select(
    c: &Arc<Cluster>,
    r: SelectRequest,
) -> Result<SelectReply, Status> {
    ready_to_read(c, r.shard).await?;
    let matchers = matchers_from_proto(&r.matchers)?;
    let engine = c.groups.engine().clone();
    let refs =
        blocking(move || engine.select(&r.tenant, &[r.shard], &matchers, r.mint, r.maxt)).await?;
    Ok(SelectReply {
        series: refs.iter().map(series_to_proto).collect(),
    })
}

/// A holder's answer with one entry per requested series id, or `BadReply`.
pub(super) fn one_per_id<T>(shard: u32, got: Vec<T>, asked: usize) -> Result<Vec<T>> {
    if got.len() != asked {
        return Err(Error::BadReply {
            shard,
            reason: "a different number of series than asked for",
        });
    }
    Ok(got)
}

/// `Cluster.ReadSamples` on a holder of the shard.
pub(crate) async fn serve_read_samples(
    c: &Arc<Cluster>,
    r: ReadSamplesRequest,
) -> Result<ReadSamplesReply, Status> {
    ready_to_read(c, r.shard).await?;
    let engine = c.groups.engine().clone();
    let series = blocking(move || {
        let mut samples = Vec::new();
        r.sids
            .iter()
            .map(|&sid| {
                engine.read_samples(r.shard, sid, r.mint, r.maxt, &mut samples)?;
                Ok(SeriesSamples {
                    timestamps: samples.iter().map(|s| s.t).collect(),
                    value_bits: samples.iter().map(|s| s.v.to_bits()).collect(),
                })
            })
            .collect::<cairn_storage::Result<Vec<_>>>()
    })
    .await?;
    Ok(ReadSamplesReply { series })
}

/// `Cluster.Labels` on a holder of the shard.
pub(crate) async fn serve_labels(
    c: &Arc<Cluster>,
    r: LabelsRequest,
) -> Result<LabelsReply, Status> {
    ready_to_read(c, r.shard).await?;
    let matchers = matchers_from_proto(&r.matchers)?;
    let engine = c.groups.engine().clone();
    let values = blocking(move || {
        let range = r.has_range.then_some((r.mint, r.maxt));
        if r.name.is_empty() {
            engine.label_names(&r.tenant, &[r.shard], &matchers, range)
        } else {
            engine.label_values(&r.tenant, &[r.shard], &r.name, &matchers, range)
        }
    })
    .await?;
    Ok(LabelsReply { values })
}

/// This node holds `shard`, and its replica has applied every acknowledged write.
pub(super) async fn ready_to_read(c: &Cluster, shard: u32) -> Result<(), Status> {
    if !c.has_replica(shard) {
        return Err(Status::unavailable(format!(
            "node {} holds no replica of shard {shard}",
            c.node_id()
        )));
    }
    c.read_barrier(&[shard])
        .await
        .map_err(|e| Status::unavailable(e.to_string()))
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> cairn_storage::Result<T> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::internal(e.to_string()))
}

// ---- conversions -----------------------------------------------------------------------

fn matcher_to_proto(m: &Matcher) -> LabelMatcher {
    let op = match m.op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::RegexMatch => 2,
        MatchOp::RegexNoMatch => 3,
    };
    LabelMatcher {
        name: m.name.clone(),
        op,
        value: m.value.clone(),
    }
}

fn matchers_from_proto(ms: &[LabelMatcher]) -> Result<Vec<Matcher>, Status> {
    ms.iter()
        .map(|m| {
            let op = match m.op {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::RegexMatch,
                3 => MatchOp::RegexNoMatch,
                other => {
                    return Err(Status::invalid_argument(format!(
                        "unknown matcher operator {other}"
                    )));
                }
            };
            Matcher::new(op, &m.name, &m.value).map_err(|e| Status::invalid_argument(e.to_string()))
        })
        .collect()
}

fn series_to_proto(s: &SeriesRef) -> RemoteSeries {
    RemoteSeries {
        sid: s.sid,
        labels: s
            .labels
            .iter()
            .flat_map(|l| [l.name.clone(), l.value.clone()])
            .collect(),
    }
}

fn series_from_proto(shard: u32, s: RemoteSeries) -> Result<SeriesRef> {
    if !s.labels.len().is_multiple_of(2) {
        return Err(Error::BadReply {
            shard,
            reason: "a series with an odd label list",
        });
    }
    let pairs = s.labels.chunks(2).map(|p| (p[0].clone(), p[1].clone()));
    Ok(SeriesRef {
        shard,
        sid: s.sid,
        labels: Labels::from_pairs(pairs)?,
    })
}

fn samples_from_proto(shard: u32, s: SeriesSamples) -> Result<Vec<Sample>> {
    if s.timestamps.len() != s.value_bits.len() {
        return Err(Error::BadReply {
            shard,
            reason: "timestamps and values of different lengths",
        });
    }
    Ok(s.timestamps
        .iter()
        .zip(&s.value_bits)
        .map(|(&t, &bits)| Sample::new(t, f64::from_bits(bits)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_and_series_round_trip() {
        let ms = [
            Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
            Matcher::new(MatchOp::NotEqual, "job", "").unwrap(),
            Matcher::new(MatchOp::RegexMatch, "instance", "a.*").unwrap(),
            Matcher::new(MatchOp::RegexNoMatch, "env", "dev|test").unwrap(),
        ];
        let back =
            matchers_from_proto(&ms.iter().map(matcher_to_proto).collect::<Vec<_>>()).unwrap();
        for (a, b) in ms.iter().zip(&back) {
            assert_eq!((&a.name, a.op, &a.value), (&b.name, b.op, &b.value));
        }
        let bad = LabelMatcher {
            name: "a".into(),
            op: 9,
            value: "b".into(),
        };
        assert!(matchers_from_proto(&[bad]).is_err());

        let s = SeriesRef {
            shard: 3,
            sid: 42,
            labels: Labels::from_pairs([("__name__", "up"), ("job", "x")]).unwrap(),
        };
        let back = series_from_proto(3, series_to_proto(&s)).unwrap();
        assert_eq!((back.shard, back.sid, &back.labels), (3, 42, &s.labels));
    }

    #[test]
    fn sample_values_keep_their_bits() {
        let stale = f64::from_bits(cairn_model::STALE_NAN_BITS);
        let samples = [
            Sample::new(1, stale),
            Sample::new(2, -0.0),
            Sample::new(3, 0.1),
        ];
        let msg = SeriesSamples {
            timestamps: samples.iter().map(|s| s.t).collect(),
            value_bits: samples.iter().map(|s| s.v.to_bits()).collect(),
        };
        let back = samples_from_proto(0, msg).unwrap();
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
        }
        let uneven = SeriesSamples {
            timestamps: vec![1, 2],
            value_bits: vec![0],
        };
        assert!(samples_from_proto(0, uneven).is_err());
    }
}

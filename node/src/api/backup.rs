//! Backup endpoints, read by `cairn backup` (`cli/backup.rs`):
//!
//! ```text
//!  GET /api/v1/admin/backup/shards/{id}  this node's replica of the shard, as a shard dump
//!      read barrier (every write acknowledged before the call is applied here) ─► checkpoint
//!      through Raft ─► Engine::begin_backup (a RocksDB snapshot, no checkpoint of its own)
//!      ─► streamed in 1 MiB pieces from a blocking thread: memory stays one piece or two
//!  GET /api/v1/admin/backup/meta          the cluster's shape and the meta group's key-value
//!      space (rules, alert state, tenants' retention, silences) as this node applied it
//! ```
//! Writes go on meanwhile: a shard's dump holds everything acknowledged before the request.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use super::{ApiError, SharedState, success};

/// The size of the pieces a dump is streamed in.
const PIECE_BYTES: usize = 1 << 20;

/// `GET /api/v1/admin/backup/shards/{id}`
pub async fn shard(
    State(st): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let shard: u32 = id
        .parse()
        .map_err(|_| ApiError::bad_data(format!("shard {id:?} is not a number")))?;
    let g = st.cluster.groups().shard(shard).ok_or_else(|| {
        ApiError::not_found(format!(
            "this node holds no replica of shard {shard}: ask one in its placement"
        ))
    })?;
    st.cluster.read_barrier(&[shard]).await?;
    g.checkpoint_now()
        .await
        .map_err(|e| ApiError::unavailable(format!("shard {shard}: checkpoint: {e}")))?;
    let engine = st.engine.clone();
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let mut w = PieceWriter {
            tx,
            piece: Vec::with_capacity(PIECE_BYTES),
        };
        let written = engine
            .begin_backup(shard)
            .and_then(|d| d.write_to(&mut w))
            .map_err(std::io::Error::other)
            .and_then(|_| w.flush());
        if let Err(e) = written {
            // The client sees the body end in an error, never a short dump taken for whole.
            let _ = w.tx.blocking_send(Err(e));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Sends what is written in pieces of `PIECE_BYTES` down the channel.
struct PieceWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    piece: Vec<u8>,
}

impl Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.piece.extend_from_slice(buf);
        if self.piece.len() >= PIECE_BYTES {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(PIECE_BYTES));
        self.tx
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

/// `GET /api/v1/admin/backup/meta`
pub async fn meta(State(st): State<SharedState>) -> Response {
    let state = st.cluster.state();
    let kv: Vec<(String, String)> = st.cluster.groups().meta().kv_scan("");
    success(json!({
        "shards": state.shards,
        "shards_per_tenant": state.shards_per_tenant,
        "kv": kv,
    }))
}

//! Cairn's ingest formats: turns the bodies of write requests into `WriteBatch`es, one per
//! request and tenant (or one per shard, through a sharded builder).
//!
//! It owns the wire formats that clients push (InfluxDB line protocol, Prometheus
//! remote_write) and the mapping of their points onto Cairn series (docs/design.md, "Data
//! model"). It is pure: no sockets, no runtime, no storage. It must not route, propose or
//! apply batches: the node's HTTP handler hands them to the write path.
//!
//! ```text
//!  line protocol ──► line_protocol::Parser ──► Line { measurement, tags, fields, timestamp }
//!                      (borrows the body, no         │  one sample per numeric field,
//!                       allocation per line)         ▼  metric `measurement_field`
//!                                    influx::parse_body_into ──► WriteBatchBuilder + IngestReport
//!  remote_write (snappy protobuf) ──► remote::decode_into ──────► WriteBatchBuilder
//! ```

pub mod influx;
pub mod line_protocol;
pub mod remote;

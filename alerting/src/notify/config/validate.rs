//! References between sections, checked once every section is read: each route's receiver
//! and time intervals must exist (Alertmanager's `checkReceiver`, `checkTimeInterval`).

use std::collections::BTreeMap;

use super::route_decode::RawRoute;
use super::sink::Sink;
use crate::notify::receiver::Receiver;
use crate::notify::time_interval::TimeInterval;
use crate::yaml::Node;

pub(crate) fn references(
    sink: &mut Sink,
    root: &RawRoute<'_>,
    receivers: &[(Receiver, &Node)],
    time_intervals: &BTreeMap<String, (Vec<TimeInterval>, &Node)>,
) {
    for route in root.walk() {
        if let Some(r) = &route.receiver
            && !receivers.iter().any(|(rcv, _)| rcv.name == r.name)
        {
            sink.at(
                &r.path,
                r.node,
                format!("undefined receiver {:?} used in route", r.name),
            );
        }
        for ti in route
            .mute_time_intervals
            .iter()
            .chain(&route.active_time_intervals)
        {
            if !time_intervals.contains_key(&ti.name) {
                sink.at(
                    &ti.path,
                    ti.node,
                    format!("undefined time interval {:?} used in route", ti.name),
                );
            }
        }
    }
}
